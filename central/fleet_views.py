"""What the fleet pages show, as frozen dataclasses: the list, one gateway, data quality.

No HTML and no JSON here: the page renders these. Alarms are evaluated at query time with
the caller's "now" (fleet_rules.py), so a gateway that went silent shows "not seen" without a
sweep writing to the table. Plain SQL that SQLite and PostgreSQL both take; the payload
checks of data quality are made in Python, on one gateway's readings at a time, because the
two databases spell JSON access differently.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from central.fleet_rules import DEFAULT_THRESHOLDS, Alarm, Severity, Thresholds, evaluate
from central.fleet_store import fleet_events, fleet_gateways, iso_epoch, snapshot
from central.store import dead_letters, readings
from core.topics import gateway_of

# Readings whose measured_at rests on a clock nobody checked (core.reading.TimeQuality).
UNTRUSTED_TIME = frozenset({"gateway_receive", "unknown"})


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
    """Per gateway (device None) or per device. `duplicates_received` is None: central counts
    duplicates only in memory (CentralStats), so the database cannot say per gateway."""

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
    """The gateway's totals first, then one row per device id, from central's readings."""
    total = Counter[str]()
    per_device: dict[str, Counter[str]] = {}
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=2000).execute(
            sa.select(readings.c.payload).where(readings.c.gateway_id == gateway_id)
        )
        for (payload,) in result:
            data = json.loads(payload)
            device = data.get("device") or {}
            counts = per_device.setdefault(str(device.get("id", "?")), Counter())
            for counter in (total, counts):
                _count_reading(counter, data)
        dead = _dead_letters_of(conn, gateway_id)
    out = [_quality(gateway_id, None, total, dead)]
    out += [_quality(gateway_id, d, c, None) for d, c in sorted(per_device.items())]
    return out


def _count_reading(counter: Counter[str], data: Mapping[str, Any]) -> None:
    values = data.get("values") or {}
    counter["readings"] += 1
    counter["untrusted_clock"] += data.get("time_quality") in UNTRUSTED_TIME
    counter["control_solution"] += bool(values.get("control_solution"))
    counter["hi_lo"] += bool(values.get("hi")) or bool(values.get("lo"))
    counter["unbound"] += not data.get("subject")


def _dead_letters_of(conn: sa.Connection, gateway_id: str) -> int:
    # The topic names the gateway (the payload may be junk); LIKE narrows, gateway_of decides,
    # since an id may hold LIKE's wildcard characters.
    prefix = f"gempita/v1/{gateway_id}/"
    topics = conn.execute(
        sa.select(dead_letters.c.topic).where(
            dead_letters.c.topic.like(
                prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
                escape="\\",
            )
        )
    ).scalars()
    return sum(1 for t in topics if gateway_of(t) == gateway_id)


def _quality(
    gateway_id: str, device: str | None, c: Counter[str], dead: int | None
) -> QualityCounts:
    return QualityCounts(
        gateway_id=gateway_id,
        device_id=device,
        readings=c["readings"],
        untrusted_clock=c["untrusted_clock"],
        control_solution=c["control_solution"],
        hi_lo=c["hi_lo"],
        unbound=c["unbound"],
        dead_letters=dead,
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
