"""Data quality per gateway and per device: what came in during a period that needs a look.

Counted for each gateway (and, on its page, each device of it): readings received; readings
whose time rests on a clock nobody checked (time quality `gateway_receive` or `unknown`);
control-solution tests; HI/LO results; unbound readings (no resident's subject); readings from
a device outside the kit's assurance policy (payload v2's `assurance.status`); duplicates
received (revision 0007's per-hour counts); dead letters (the gateway named by the topic,
since the payload may be junk).

"During a period" is by central's receive time, not the reading's `measured_at`: a reading with
an untrusted clock may claim any date, and dead letters and duplicates have only the time
central saw them. Everything is a GROUP BY in the database (SQLite or PostgreSQL), so a city's
million readings are never brought into Python; payload fields are read per dialect by
central/payload_sql.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from central.cascade import Window
from central.fleet_store import fleet_gateways
from central.payload_sql import PayloadDoc
from central.store import dead_letters, duplicates_received, readings
from core.reading import AssuranceStatus, TimeQuality
from core.topics import PREFIX

# Readings whose measured_at rests on a clock nobody checked (core.reading.TimeQuality).
UNTRUSTED_TIME = (TimeQuality.GATEWAY_RECEIVE.value, TimeQuality.UNKNOWN.value)
# What each row counts, in the order the page shows them.
MEASURES = (
    "readings",
    "untrusted_clock",
    "control_solution",
    "hi_lo",
    "unbound",
    "out_of_policy",
    "duplicates",
    "dead_letters",
)
# Counted per gateway only: neither a resent copy nor a dead letter has a device to trust.
GATEWAY_ONLY = frozenset({"duplicates", "dead_letters"})


@dataclass(frozen=True, slots=True)
class Span:
    """[start, end) in epoch seconds; None on a side: unbounded."""

    start: float | None = None
    end: float | None = None


ALL_TIME = Span()


def span_of(win: Window, zone: ZoneInfo) -> Span:
    """The period's local days as epoch seconds."""

    def edge(day: date) -> float:
        return datetime.combine(day, time(0), zone).timestamp()

    return Span(edge(win.start), edge(win.end))


@dataclass(frozen=True, slots=True)
class QualityRow:
    gateway_id: str
    device_id: str | None  # None: the gateway's (or the page's) total
    site_id: str | None
    readings: int = 0
    untrusted_clock: int = 0
    control_solution: int = 0
    hi_lo: int = 0
    unbound: int = 0
    out_of_policy: int = 0
    duplicates: int | None = 0  # None on a device's row
    dead_letters: int | None = 0  # None on a device's row

    @property
    def problems(self) -> int:
        """Everything but the readings themselves: the chart's bar per gateway."""
        return sum(getattr(self, m) or 0 for m in MEASURES if m != "readings")


def _between(column: sa.ColumnElement[float], span: Span) -> list[sa.ColumnElement[bool]]:
    found = []
    if span.start is not None:
        found.append(column >= span.start)
    if span.end is not None:
        found.append(column < span.end)
    return found


def _reading_counts(doc: PayloadDoc) -> list[sa.ColumnElement[int]]:
    def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        # SUM(CASE ...) rather than COUNT(*) FILTER: both dialects take it, and SQLite < 3.30
        # (Debian's oldest supported) has no FILTER.
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    return [
        sa.func.count(),
        count_if(doc.text("time_quality").in_(UNTRUSTED_TIME)),
        count_if(doc.is_true("values", "control_solution")),
        count_if(sa.or_(doc.is_true("values", "hi"), doc.is_true("values", "lo"))),
        count_if(doc.text("subject", "pseudonym").is_(None)),
        count_if(doc.text("assurance", "status") == AssuranceStatus.OUT_OF_POLICY.value),
    ]


def _gateway_of_topic(engine: Engine) -> sa.ColumnElement[str]:
    """The gateway in `gempita/v1/<id>/<leaf>` (core.topics.gateway_of), in SQL."""
    column = dead_letters.c.topic
    if engine.dialect.name == "postgresql":
        return sa.func.split_part(column, "/", 3)
    rest = sa.func.substr(column, len(PREFIX) + 2)  # after "gempita/v1/"
    return sa.func.substr(rest, 1, sa.func.instr(rest, "/") - 1)


def _topic_shape(engine: Engine) -> sa.ColumnElement[bool]:
    # Exactly four parts with the prefix: as gateway_of, which gives "" for any other shape.
    column = dead_letters.c.topic
    slashes = sa.func.length(column) - sa.func.length(sa.func.replace(column, "/", ""))
    prefix = sa.func.substr(column, 1, len(PREFIX) + 1) == PREFIX + "/"
    return sa.and_(prefix, slashes == 3, _gateway_of_topic(engine) != "")


class QualityQueries:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def visible_gateways(self, sites: Collection[str] | None) -> frozenset[str] | None:
        """The gateways placed at `sites` by the fleet table; None (every gateway) for None."""
        if sites is None:
            return None
        if not sites:
            return frozenset()
        query = sa.select(fleet_gateways.c.gateway_id).where(
            fleet_gateways.c.site_id.in_(sorted(sites))
        )
        with self._engine.connect() as conn:
            return frozenset(str(g) for g in conn.execute(query).scalars())

    def known(self, gateway_id: str) -> bool:
        """Central has heard of the gateway: a status in the fleet table, or a reading."""
        with self._engine.connect() as conn:
            for table in (fleet_gateways, readings):
                query = sa.select(sa.literal(1)).where(table.c.gateway_id == gateway_id).limit(1)
                if conn.execute(query).first() is not None:
                    return True
        return False

    def by_gateway(self, span: Span, gateways: frozenset[str] | None) -> list[QualityRow]:
        """One row per gateway with anything in the period, by gateway id; `gateways` None:
        every gateway, including ones central knows only from a reading or a dead letter."""
        if gateways is not None and not gateways:
            return []
        e = self._engine
        doc = PayloadDoc(e)
        reads = (
            sa.select(readings.c.gateway_id, *_reading_counts(doc))
            .select_from(doc.source)
            .where(*_between(readings.c.received_at, span))
            .group_by(readings.c.gateway_id)
        )
        dups = (
            sa.select(
                duplicates_received.c.gateway_id, sa.func.sum(duplicates_received.c.duplicates)
            )
            .where(*_between(duplicates_received.c.hour, span))
            .group_by(duplicates_received.c.gateway_id)
        )
        gateway = _gateway_of_topic(e)
        dead = (
            sa.select(gateway, sa.func.count())
            .where(_topic_shape(e), *_between(dead_letters.c.received_at, span))
            .group_by(gateway)
        )
        if gateways is not None:
            chosen = sorted(gateways)
            reads = reads.where(readings.c.gateway_id.in_(chosen))
            dups = dups.where(duplicates_received.c.gateway_id.in_(chosen))
            dead = dead.where(gateway.in_(chosen))
        rows: dict[str, QualityRow] = {}
        with e.connect() as conn:
            for gw, *counts in conn.execute(reads):
                rows[gw] = QualityRow(str(gw), None, None, *(int(c) for c in counts))
            for gw, n in conn.execute(dups):
                rows[gw] = replace(
                    rows.get(gw) or QualityRow(str(gw), None, None), duplicates=int(n)
                )
            for gw, n in conn.execute(dead):
                rows[gw] = replace(
                    rows.get(gw) or QualityRow(str(gw), None, None), dead_letters=int(n)
                )
            sites = dict(
                conn.execute(
                    sa.select(fleet_gateways.c.gateway_id, fleet_gateways.c.site_id).where(
                        fleet_gateways.c.gateway_id.in_(sorted(rows))
                    )
                ).all()
            )
        return [replace(rows[g], site_id=sites.get(g)) for g in sorted(rows)]

    def by_device(self, gateway_id: str, span: Span) -> list[QualityRow]:
        """One row per device id of the gateway with readings in the period."""
        doc = PayloadDoc(self._engine)
        device = doc.text("device", "id")
        query = (
            sa.select(device, *_reading_counts(doc))
            .select_from(doc.source)
            .where(readings.c.gateway_id == gateway_id, *_between(readings.c.received_at, span))
            .group_by(device)
            .order_by(device)
        )
        with self._engine.connect() as conn:
            site = conn.execute(
                sa.select(fleet_gateways.c.site_id).where(fleet_gateways.c.gateway_id == gateway_id)
            ).scalar()
            return [
                replace(
                    QualityRow(
                        gateway_id, "?" if dev is None else str(dev), site, *map(int, counts)
                    ),
                    duplicates=None,
                    dead_letters=None,
                )
                for dev, *counts in conn.execute(query)
            ]


def total(rows: Iterable[QualityRow], *, gateway_id: str = "") -> QualityRow:
    """The sum of `rows` (a device row's None counts as nothing)."""
    sums = dict.fromkeys(MEASURES, 0)
    for row in rows:
        for m in MEASURES:
            sums[m] += getattr(row, m) or 0
    return QualityRow(gateway_id, None, None, **sums)
