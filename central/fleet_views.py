"""What the fleet pages show, as frozen dataclasses: the list, one gateway, data quality.

No HTML and no JSON here: the page renders these. Alarms are evaluated at query time with
the caller's "now" (fleet_rules.py), so a gateway that went silent shows "not seen" without a
sweep writing to the table. Plain SQL that SQLite and PostgreSQL both take; data quality is
central/quality.py's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from central.fleet_rules import DEFAULT_THRESHOLDS, Alarm, Severity, Thresholds, evaluate
from central.fleet_store import fleet_events, fleet_gateways, iso_epoch, snapshot
from central.quality import ALL_TIME, QualityQueries, QualityRow


class SortKey(StrEnum):
    NAME = "name"
    STATE = "state"
    LAST_SEEN = "last_seen"
    BACKLOG = "backlog"
    OLDEST = "oldest"


@dataclass(frozen=True, slots=True)
class DeviceView:
    name: str
    transport: str | None
    kind: str | None
    state: str | None
    last_seen: float | None
    last_reading_at: float | None
    battery_pct: int | None
    last_error: str | None
    failures: int | None
    # Kit assurance as the gateway's status carried it: "ok" | "out_of_policy" | "unknown",
    # None when the gateway does not judge its devices; reasons are short codes.
    assurance: str | None = None
    assurance_reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FleetRow:
    gateway_id: str
    kind: str | None
    site_id: str | None
    state: str
    state_since: float
    last_seen: float
    version: str | None
    backlog: int  # readings not yet confirmed by central (pending + published)
    oldest_unconfirmed_age_s: float | None
    clock_trusted: bool | None
    alarms: tuple[Alarm, ...]
    devices: tuple[DeviceView, ...]

    @property
    def worst(self) -> Severity | None:
        return max((a.severity for a in self.alarms), default=None)


@dataclass(frozen=True, slots=True)
class FleetFilter:
    state: str | None = None  # "online" | "offline"
    alarm: str | None = None  # an alarm rule ("outbox_full", "device_silent", ...) or "any"
    kind: str | None = None  # "kiosk" | "kit"


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    at: float
    kind: str
    code: str
    detail: str | None


@dataclass(frozen=True, slots=True)
class GatewayDetail:
    row: FleetRow
    outbox: Mapping[str, int | None]
    reported_alarms: tuple[str, ...]
    timeline: tuple[TimelineEvent, ...]  # newest first


@dataclass(frozen=True, slots=True)
class QualityCounts:
    """Per gateway (device None) or per device; dead letters and duplicates per gateway only."""

    gateway_id: str
    device_id: str | None
    readings: int
    untrusted_clock: int
    control_solution: int
    hi_lo: int
    unbound: int
    dead_letters: int | None  # per gateway only (a dead letter has no trustworthy device)
    duplicates_received: int | None = None


def fleet_list(
    engine: Engine,
    now: float,
    *,
    filters: FleetFilter = FleetFilter(),
    sort: SortKey = SortKey.NAME,
    descending: bool = False,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[FleetRow]:
    """Every gateway central has heard of, filtered and sorted for the fleet page."""
    query = sa.select(fleet_gateways)
    if filters.state:
        query = query.where(fleet_gateways.c.state == filters.state)
    if filters.kind:
        query = query.where(fleet_gateways.c.kind == filters.kind)
    with engine.connect() as conn:
        rows = [_row(dict(r), now, thresholds) for r in conn.execute(query).mappings()]
    if filters.alarm == "any":
        rows = [r for r in rows if r.alarms]
    elif filters.alarm:
        rows = [r for r in rows if any(a.rule == filters.alarm for a in r.alarms)]
    # Stable sorts, the name first: ties stay in name order whichever way the key runs.
    rows.sort(key=lambda r: r.gateway_id, reverse=descending and sort is SortKey.NAME)
    if sort is not SortKey.NAME:
        rows.sort(key=_SORT_KEYS[sort], reverse=descending)
    return rows


def _oldest(row: FleetRow) -> float:
    # Nothing unconfirmed sorts before any age.
    return -1.0 if row.oldest_unconfirmed_age_s is None else row.oldest_unconfirmed_age_s


_SORT_KEYS: Mapping[SortKey, Callable[[FleetRow], Any]] = {
    # Offline first, then the worst alarm: what needs a person comes to the top.
    SortKey.STATE: lambda r: (r.state != "offline", -(r.worst or 0)),
    SortKey.LAST_SEEN: lambda r: r.last_seen,
    SortKey.BACKLOG: lambda r: r.backlog,
    SortKey.OLDEST: _oldest,
}


def gateway_detail(
    engine: Engine,
    gateway_id: str,
    now: float,
    *,
    timeline_limit: int = 100,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> GatewayDetail | None:
    with engine.connect() as conn:
        raw = (
            conn.execute(sa.select(fleet_gateways).where(fleet_gateways.c.gateway_id == gateway_id))
            .mappings()
            .first()
        )
        if raw is None:
            return None
        events = conn.execute(
            sa.select(
                fleet_events.c.at, fleet_events.c.kind, fleet_events.c.code, fleet_events.c.detail
            )
            .where(fleet_events.c.gateway_id == gateway_id)
            .order_by(fleet_events.c.at.desc(), fleet_events.c.n.desc())
            .limit(timeline_limit)
        ).all()
    return GatewayDetail(
        row=_row(dict(raw), now, thresholds),
        outbox={
            "pending": raw["outbox_pending"],
            "published": raw["outbox_published"],
            "unconfirmed": raw["outbox_unconfirmed"],
            "refused": raw["outbox_refused"],
            "max_readings": raw["outbox_max"],
        },
        reported_alarms=tuple(json.loads(raw["reported_alarms"])),
        timeline=tuple(TimelineEvent(float(a), str(k), str(c), d) for a, k, c, d in events),
    )


def data_quality(engine: Engine, gateway_id: str) -> list[QualityCounts]:
    """The gateway's totals first, then one row per device id, over all time.

    A thin wrapper: the counting is central/quality.py's, as SQL aggregates.
    """
    queries = QualityQueries(engine)
    found = queries.by_gateway(ALL_TIME, frozenset([gateway_id]))
    gateway = found[0] if found else QualityRow(gateway_id, None, None)
    return [_counts(gateway)] + [_counts(d) for d in queries.by_device(gateway_id, ALL_TIME)]


def _counts(row: QualityRow) -> QualityCounts:
    return QualityCounts(
        gateway_id=row.gateway_id,
        device_id=row.device_id,
        readings=row.readings,
        untrusted_clock=row.untrusted_clock,
        control_solution=row.control_solution,
        hi_lo=row.hi_lo,
        unbound=row.unbound,
        dead_letters=row.dead_letters,
        duplicates_received=row.duplicates,
    )


def _row(raw: Mapping[str, Any], now: float, thresholds: Thresholds) -> FleetRow:
    devices: Sequence[Mapping[str, Any]] = json.loads(raw["devices"])
    pending = raw["outbox_pending"] or 0
    published = raw["outbox_published"] or 0
    return FleetRow(
        gateway_id=raw["gateway_id"],
        kind=raw["kind"],
        site_id=raw["site_id"],
        state=raw["state"],
        state_since=raw["state_since"],
        last_seen=raw["last_seen"],
        version=raw["version"],
        backlog=pending + published,
        oldest_unconfirmed_age_s=raw["oldest_unconfirmed_age_s"],
        clock_trusted=raw["clock_trusted"],
        alarms=tuple(evaluate(snapshot(raw), now, thresholds)),
        devices=tuple(
            DeviceView(
                name=d["name"],
                transport=d.get("transport"),
                kind=d.get("kind"),
                state=d.get("state"),
                last_seen=iso_epoch(d.get("last_seen")),
                last_reading_at=iso_epoch(d.get("last_reading_at")),
                battery_pct=d.get("battery_pct"),
                last_error=d.get("last_error"),
                failures=d.get("failures"),
                assurance=(d.get("assurance") or {}).get("status"),
                assurance_reasons=tuple((d.get("assurance") or {}).get("reasons") or ()),
            )
            for d in devices
        ),
    )
