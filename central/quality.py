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

Parsing a payload in SQL still costs ~20 us (PostgreSQL's jsonb cast), too much to repeat for a
month of a city's readings on every view. So a local (WITA) day that has been over for an hour
is counted once, per gateway and device, into `quality_daily` (`refresh`, run before each
query, under a lock); a period sums those rows and parses only the payloads received since
(bench/RESULTS.md, (k) /quality).
"""

from __future__ import annotations

import logging
import math
import time as timer
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from central.cascade import Window
from central.fleet_store import fleet_gateways
from central.payload_sql import PayloadDoc
from central.store import dead_letters, duplicates_received, metadata, readings
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
READING_MEASURES = MEASURES[:6]  # what a reading's payload tells (the rest: other tables)
UNKNOWN_DEVICE = "?"
# Balikpapan keeps WITA (UTC+8, no daylight saving): the days counted are the city's days, so
# a period of whole local days is a sum of whole rows (cascade.DEFAULT_ZONE is the same zone).
UTC_OFFSET_S = 8 * 3600
DAY_S = 86400
# A day is counted once it has been over this long: central stamps received_at when it stores
# a reading, so no reading of an older day can still arrive (unless an instance's clock is off
# by more than this).
SEAL_LAG_S = 3600
_ROLLUP = "daily"
_ROLLUP_LOCK_KEY = 0x7175616C697479  # "quality"
_LOGGER = logging.getLogger(__name__)

# Counted per gateway only: neither a resent copy nor a dead letter has a device to trust.
GATEWAY_ONLY = frozenset({"duplicates", "dead_letters"})


# Schema: central/migrations/versions/v0007_quality.py.
quality_daily = sa.Table(
    "quality_daily",
    metadata,
    sa.Column("gateway_id", sa.String(100), primary_key=True),
    sa.Column("device_id", sa.String(200), primary_key=True),
    sa.Column("day", sa.BigInteger, primary_key=True),  # epoch of the local day's midnight
    *(sa.Column(m, sa.BigInteger, nullable=False) for m in READING_MEASURES),
    sa.Index("ix_quality_daily_day", "day"),
)
quality_rollup = sa.Table(
    "quality_rollup",
    metadata,
    sa.Column("name", sa.String(20), primary_key=True),
    sa.Column("through", sa.Float, nullable=False),  # readings received before are counted
)


def day_start(epoch: float) -> int:
    """The epoch of the local midnight that begins the day holding `epoch`."""
    return int((epoch + UTC_OFFSET_S) // DAY_S) * DAY_S - UTC_OFFSET_S


def _day_of(engine: Engine, column: sa.ColumnElement[float]) -> sa.ColumnElement[int]:
    shifted = (column + UTC_OFFSET_S) / DAY_S
    # PostgreSQL rounds a float cast to an integer, SQLite truncates (received_at > 0: floor).
    whole = (
        sa.cast(sa.func.floor(shifted), sa.BigInteger)
        if engine.dialect.name == "postgresql"
        else sa.cast(shifted, sa.BigInteger)
    )
    return whole * DAY_S - UTC_OFFSET_S


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


def _between(column: sa.ColumnElement[Any], span: Span) -> list[sa.ColumnElement[bool]]:
    # An integer column (a day's or an hour's start) is compared with integers: PostgreSQL
    # compares a bigint with a float as numeric, which no index on the column serves.
    whole = isinstance(column.type, sa.Integer)
    found = []
    if span.start is not None:
        found.append(column >= (math.ceil(span.start) if whole else span.start))
    if span.end is not None:
        found.append(column < (math.ceil(span.end) if whole else span.end))
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
    """The page's counts. `clock` (epoch seconds) says which days are over and may be sealed."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = timer.time) -> None:
        self._engine = engine
        self._clock = clock

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

    # --- sealed days: counted once, summed after --------------------------------------------

    def refresh(self) -> int:
        """Count the local days that are over (SEAL_LAG_S ago) into `quality_daily`, once;
        returns how many (gateway, device, day) rows it added."""
        e = self._engine
        sealed = float(day_start(self._clock() - SEAL_LAG_S))
        with e.begin() as conn:
            # Two refreshes at once would count the same days twice: they take turns, and the
            # later one finds the mark moved.
            if e.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ROLLUP_LOCK_KEY)))
            else:
                conn.execute(quality_rollup.delete().where(sa.false()))  # SQLite's write lock
            through = self._through(conn)
            if through is not None and through >= sealed:
                return 0
            doc = PayloadDoc(e)
            device = sa.func.coalesce(doc.text("device", "id"), UNKNOWN_DEVICE)
            day = _day_of(e, readings.c.received_at)
            when = [readings.c.received_at < sealed]
            if through is not None:
                when.append(readings.c.received_at >= through)
            counted = (
                sa.select(readings.c.gateway_id, device, day, *_reading_counts(doc))
                .select_from(doc.source)
                .where(*when)
                .group_by(readings.c.gateway_id, device, day)
            )
            # RETURNING, not rowcount: psycopg gives -1 for an INSERT ... SELECT.
            added = len(
                conn.execute(
                    quality_daily.insert()
                    .from_select(["gateway_id", "device_id", "day", *READING_MEASURES], counted)
                    .returning(quality_daily.c.day)
                ).all()
            )
            if through is None:
                conn.execute(quality_rollup.insert().values(name=_ROLLUP, through=sealed))
            else:
                conn.execute(
                    quality_rollup.update()
                    .where(quality_rollup.c.name == _ROLLUP)
                    .values(through=sealed)
                )
        if added:
            _LOGGER.info("quality: counted %d gateway-device-days", added)
        return added

    @staticmethod
    def _through(conn: sa.Connection) -> float | None:
        found = conn.execute(
            sa.select(quality_rollup.c.through).where(quality_rollup.c.name == _ROLLUP)
        ).scalar_one_or_none()
        return None if found is None else float(found)

    def _parts(self, conn: sa.Connection, span: Span) -> tuple[Span | None, Span | None]:
        """(the sealed days of `span`, summed from quality_daily; the rest, counted from the
        readings). The span's edges are local midnights (span_of), as the days' are."""
        through = self._through(conn)
        if through is None:
            return None, span
        end = through if span.end is None else min(span.end, through)
        start = through if span.start is None else max(span.start, through)
        sealed = Span(span.start, end) if span.start is None or span.start < end else None
        live = Span(start, span.end) if span.end is None or start < span.end else None
        return sealed, live

    def by_gateway(self, span: Span, gateways: frozenset[str] | None) -> list[QualityRow]:
        """One row per gateway with anything in the period, by gateway id; `gateways` None:
        every gateway, including ones central knows only from a reading or a dead letter."""
        if gateways is not None and not gateways:
            return []
        self.refresh()
        e = self._engine
        chosen = None if gateways is None else sorted(gateways)
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
        if chosen is not None:
            dups = dups.where(duplicates_received.c.gateway_id.in_(chosen))
            dead = dead.where(gateway.in_(chosen))
        sums: dict[str, dict[str, int]] = {}

        def add(gw: object, measures: Iterable[str], values: Iterable[Any]) -> None:
            mine = sums.setdefault(str(gw), dict.fromkeys(MEASURES, 0))
            for m, v in zip(measures, values, strict=True):
                mine[m] += int(v or 0)

        with e.connect() as conn:
            sealed, live = self._parts(conn, span)
            if sealed is not None:
                query = (
                    sa.select(
                        quality_daily.c.gateway_id,
                        *(sa.func.sum(quality_daily.c[m]) for m in READING_MEASURES),
                    )
                    .where(*_between(quality_daily.c.day, sealed))
                    .group_by(quality_daily.c.gateway_id)
                )
                if chosen is not None:
                    query = query.where(quality_daily.c.gateway_id.in_(chosen))
                for gw, *counts in conn.execute(query):
                    add(gw, READING_MEASURES, counts)
            if live is not None:
                doc = PayloadDoc(e)
                query = (
                    sa.select(readings.c.gateway_id, *_reading_counts(doc))
                    .select_from(doc.source)
                    .where(*_between(readings.c.received_at, live))
                    .group_by(readings.c.gateway_id)
                )
                if chosen is not None:
                    query = query.where(readings.c.gateway_id.in_(chosen))
                for gw, *counts in conn.execute(query):
                    add(gw, READING_MEASURES, counts)
            for gw, n in conn.execute(dups):
                add(gw, ["duplicates"], [n])
            for gw, n in conn.execute(dead):
                add(gw, ["dead_letters"], [n])
            sites = dict(
                conn.execute(
                    sa.select(fleet_gateways.c.gateway_id, fleet_gateways.c.site_id).where(
                        fleet_gateways.c.gateway_id.in_(sorted(sums))
                    )
                ).all()
            )
        return [QualityRow(g, None, sites.get(g), **sums[g]) for g in sorted(sums)]

    def by_device(self, gateway_id: str, span: Span) -> list[QualityRow]:
        """One row per device id of the gateway with readings in the period."""
        self.refresh()
        sums: dict[str, dict[str, int]] = {}
        with self._engine.connect() as conn:
            sealed, live = self._parts(conn, span)
            found: list[Any] = []  # two selects of different column types
            if sealed is not None:
                found.append(
                    sa.select(
                        quality_daily.c.device_id,
                        *(sa.func.sum(quality_daily.c[m]) for m in READING_MEASURES),
                    )
                    .where(
                        quality_daily.c.gateway_id == gateway_id,
                        *_between(quality_daily.c.day, sealed),
                    )
                    .group_by(quality_daily.c.device_id)
                )
            if live is not None:
                doc = PayloadDoc(self._engine)
                device = sa.func.coalesce(doc.text("device", "id"), UNKNOWN_DEVICE)
                found.append(
                    sa.select(device, *_reading_counts(doc))
                    .select_from(doc.source)
                    .where(
                        readings.c.gateway_id == gateway_id,
                        *_between(readings.c.received_at, live),
                    )
                    .group_by(device)
                )
            for query in found:
                for dev, *counts in conn.execute(query):
                    mine = sums.setdefault(str(dev), dict.fromkeys(READING_MEASURES, 0))
                    for m, v in zip(READING_MEASURES, counts, strict=True):
                        mine[m] += int(v or 0)
            site = conn.execute(
                sa.select(fleet_gateways.c.site_id).where(fleet_gateways.c.gateway_id == gateway_id)
            ).scalar()
        return [
            QualityRow(gateway_id, d, site, **sums[d], duplicates=None, dead_letters=None)
            for d in sorted(sums)
        ]


def total(rows: Iterable[QualityRow], *, gateway_id: str = "") -> QualityRow:
    """The sum of `rows` (a device row's None counts as nothing)."""
    sums = dict.fromkeys(MEASURES, 0)
    for row in rows:
        for m in MEASURES:
            sums[m] += getattr(row, m) or 0
    return QualityRow(gateway_id, None, None, **sums)
