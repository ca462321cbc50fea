"""The screening cascade for one period and one place: who was screened, and what was found.

A reading is placed by its gateway: `fleet_gateways.site_id` -> the wilayah file's site ->
kelurahan -> kecamatan. The resident is counted once per period by pseudonym (never by NIK);
their sex, age band and registered kecamatan come from payload v2's subject (v1 readings have
none: "unknown"). Each resident's BP and glucose category is that of their *latest* reading of
the kind in the period: the kiosk asks for a repeat after rest when a value is high, and the
rested value is the one a Puskesmas would act on, and screen-positive follows those latest
categories. Urgent counts a resident if any reading of the period was: an urgent result is
acted on at once, whatever came after it.

What the cascade needs of each payload is extracted once per reading into `cascade_facts`
(revision 0008) by `refresh_facts`, which every view runs first: it files the readings stored
since the last scan (readings.received_at is indexed), so central's ingest path does no extra
work. The period filter is on the facts' indexed `measured_at` text (RFC 3339 UTC sorts as
time). The counting is the database's: one GROUP BY per resident gives the latest BP and
glucose category and whether any reading was urgent (max() of epoch ms * 10 + category), one
more counts those; the thresholds of central/cascade_rules.py are bound into the SQL, so they
stay configuration, and screen-positive is decided from the counted categories in Python.
Figures: bench/RESULTS.md, "(k) dashboard pages".

Referred / came / confirmed close the loop from the referral worklist (central/referrals.py,
revision 0006). The worklist opens a referral for every positive or urgent result, so an open
referral says only that a follow-up is owed; what the cascade counts is how far it got, by the
referral's current status:
- referred: the worklist reached the resident and sent them to the Puskesmas, and the follow-up
  is not lost: contacted, came, confirmed or not confirmed. New (not yet reached), unreachable
  and declined are not referred; the status is the current one, so a resident contacted and
  later unreachable is not counted.
- came: came to the Puskesmas: came, confirmed or not confirmed.
- confirmed: the Puskesmas confirmed the result.
So confirmed <= came <= referred. A resident counts once (by pseudonym) when any of their
referrals in reach qualifies. The place and period are the cascade's own, taken from the
readings filed under the referral (`referral_readings` -> `cascade_facts`): the referral counts
in a period and place where one of its readings was measured, so only residents screened there
then are counted, and a resident seen again in a later month under the same open referral
counts in that month too. The referral's own kelurahan and dates are not used: a referral
follows a resident across sites and months. Counted through the same `_base` as the rest, a
referred resident is always one of the screened. The cascade does not run the worklist's
`refresh()`: a referral not filed yet would be new, and new is not counted. One more query per
view, on indexed keys (referral_readings' reading id, referrals' id).
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from central.cascade_rules import (
    BP_CATEGORIES,
    DEFAULT_RULES,
    GLUCOSE_CATEGORIES,
    CascadeRules,
    bp_positive,
    glucose_positive,
)
from central.errors import CentralError
from central.fleet_store import fleet_gateways
from central.referrals import Status, referral_readings, referrals
from central.store import metadata, readings
from central.wilayah import Wilayah
from core.payload import rfc3339
from core.reading import AGE_BANDS

# Balikpapan keeps WITA: a "day" on the page is the city's day, not UTC's.
DEFAULT_ZONE = ZoneInfo("Asia/Makassar")
UNKNOWN = "unknown"
SEXES = ("female", "male", UNKNOWN)
AGE_BAND_ORDER = (*(label for _edge, label in AGE_BANDS), UNKNOWN)


class CascadeError(CentralError):
    """A cascade asked for with a period or place that does not exist."""


class Period(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class Level(enum.StrEnum):
    CITY = "city"
    KECAMATAN = "kecamatan"
    KELURAHAN = "kelurahan"
    SITE = "site"


@dataclass(frozen=True, slots=True)
class Window:
    period: Period
    start: date  # first local day
    end: date  # the day after the last

    def utc_bounds(self, zone: ZoneInfo) -> tuple[str, str]:
        def edge(day: date) -> str:
            return rfc3339(datetime.combine(day, time(0), zone).astimezone(UTC))

        return edge(self.start), edge(self.end)


def window(period: Period, day: date) -> Window:
    """The calendar period holding `day` (weeks start on Monday)."""
    if period is Period.DAY:
        return Window(period, day, day + timedelta(days=1))
    if period is Period.WEEK:
        start = day - timedelta(days=day.weekday())
        return Window(period, start, start + timedelta(days=7))
    if period is Period.MONTH:
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return Window(period, start, following)
    start = day.replace(month=1, day=1)
    return Window(period, start, start.replace(year=start.year + 1))


@dataclass(frozen=True, slots=True)
class Place:
    level: Level
    code: str  # "" for the city; a kecamatan/kelurahan code; a site id
    name: str
    kelurahan: frozenset[str]  # the kelurahan it covers


@dataclass(frozen=True, slots=True)
class Counts:
    screened: int
    by_sex: Mapping[str, int]
    by_age_band: Mapping[str, int]
    by_region: Mapping[str, int]  # registered kecamatan (NIK's first six digits) -> residents
    bp: Mapping[str, int]  # category -> residents (latest BP reading of the period)
    glucose: Mapping[str, int]
    positive: int
    urgent: int
    # Residents whose referral reached that far (module docstring: the definitions).
    referred: int
    came: int
    confirmed: int
    target: int | None  # residents aged 15 and over; None: not given for every kelurahan
    coverage: float | None  # screened / target


@dataclass(frozen=True, slots=True)
class Child:
    place: Place
    screened: int
    positive: int
    urgent: int
    target: int | None
    coverage: float | None


@dataclass(frozen=True, slots=True)
class Cascade:
    window: Window
    place: Place
    counts: Counts
    children: tuple[Child, ...] = field(default_factory=tuple)


def resolve_place(
    wilayah: Wilayah, visible: frozenset[str] | None, *, kecamatan: str = "",
    kelurahan: str = "", site: str = "",
) -> Place | None:  # fmt: skip
    """The deepest place named, limited to `visible` kelurahan (None: the whole city).

    None when it is unknown or holds nothing the caller may see: the page answers 404, so a
    place of another wilayah looks the same as one that does not exist.
    """

    def keep(codes: Iterable[str]) -> frozenset[str]:
        chosen = frozenset(codes)
        return chosen if visible is None else chosen & visible

    if site:
        found = wilayah.sites.get(site)
        if found is None or not keep([found.kelurahan]):
            return None
        return Place(Level.SITE, found.id, found.name, frozenset([found.kelurahan]))
    if kelurahan:
        kel = wilayah.kelurahan.get(kelurahan)
        if kel is None or not keep([kel.code]):
            return None
        return Place(Level.KELURAHAN, kel.code, kel.name, frozenset([kel.code]))
    if kecamatan:
        kec = wilayah.kecamatan.get(kecamatan)
        covered = keep(k.code for k in wilayah.kelurahan_in(kecamatan))
        if kec is None or not covered:
            return None
        return Place(Level.KECAMATAN, kec.code, kec.name, covered)
    return Place(Level.CITY, "", "", keep(wilayah.kelurahan))


def children_of(wilayah: Wilayah, place: Place) -> list[Place]:
    if place.level is Level.CITY:
        found = []
        for kec in sorted(wilayah.kecamatan.values(), key=lambda k: k.name):
            covered = frozenset(k.code for k in wilayah.kelurahan_in(kec.code)) & place.kelurahan
            if covered:
                found.append(Place(Level.KECAMATAN, kec.code, kec.name, covered))
        return found
    if place.level is Level.KECAMATAN:
        return [
            Place(Level.KELURAHAN, k.code, k.name, frozenset([k.code]))
            for k in wilayah.kelurahan_in(place.code)
            if k.code in place.kelurahan
        ]
    if place.level is Level.KELURAHAN:
        return [
            Place(Level.SITE, s.id, s.name, frozenset([s.kelurahan]))
            for s in wilayah.sites_in(place.code)
        ]
    return []


# What the cascade counts of a reading, extracted from its payload once (`refresh`) so a page
# reads narrow indexed columns instead of parsing ~80,000 JSON payloads per view. Central's
# ingest path is untouched: the table is filled on read, from the readings stored since the
# last scan (as the referral worklist is), and a reading is filed once by its id.
cascade_facts = sa.Table(
    "cascade_facts",
    metadata,
    sa.Column("reading_id", sa.String(64), primary_key=True),
    sa.Column("gateway_id", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("measured_at", sa.String(32), nullable=False, index=True),
    # The same instant as epoch milliseconds: "latest of" is then a max() of integers.
    sa.Column("measured_ms", sa.BigInteger, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("pseudonym", sa.String(64), nullable=True),  # None: unbound, nobody's
    sa.Column("region", sa.Integer, nullable=True),  # the NIK's six digits; None: not given
    sa.Column("sex", sa.String(10), nullable=True),
    sa.Column("age_band", sa.String(10), nullable=True),
    sa.Column("systolic", sa.Float, nullable=True),
    sa.Column("diastolic", sa.Float, nullable=True),
    sa.Column("glucose", sa.Float, nullable=True),
    sa.Column("meal", sa.String(20), nullable=True),
    sa.Column("hi", sa.Boolean, nullable=False),
    sa.Column("lo", sa.Boolean, nullable=False),
    sa.Column("control", sa.Boolean, nullable=False),
    # A kecamatan, kelurahan or site is a few of the 500 gateways: their rows of the period
    # are read from here instead of every row of the period.
    sa.Index("ix_cascade_facts_gateway_measured", "gateway_id", "measured_at"),
)
cascade_scan = sa.Table(
    "cascade_scan",
    metadata,
    sa.Column("name", sa.String(20), primary_key=True),
    sa.Column("received_at", sa.Float, nullable=False),
)
_SCAN_NAME = "readings"
# Readings are stamped with their receive time before their transaction commits, so one
# committed later may carry an earlier stamp than the scan's mark: each scan looks back this
# far again (re-filing is a no-op), as the referral worklist does.
_SCAN_OVERLAP_S = 300.0

# One payload parse per reading (the OFFSET 0 keeps PostgreSQL from inlining the cast into
# every field); only JSON numbers are numbers and only JSON true is a flag; a region that is
# not six digits is not one. Readings filed before are skipped by ON CONFLICT, not by a NOT
# EXISTS: PostgreSQL planned that as an anti join re-reading the table the statement was
# filling, once per reading (107 s for the first 100,000).
_FILL_POSTGRESQL = """
INSERT INTO cascade_facts (reading_id, gateway_id, kind, measured_at, measured_ms,
  received_at, pseudonym, region, sex, age_band, systolic, diastolic, glucose, meal, hi, lo,
  control)
SELECT id, gateway_id, kind, measured_at,
  round(extract(epoch FROM measured_at::timestamptz) * 1000)::bigint, received_at,
  NULLIF(j #>> '{subject,pseudonym}', ''),
  CASE WHEN j #>> '{subject,region}' ~ '^[0-9]{6}$' THEN (j #>> '{subject,region}')::int END,
  NULLIF(j #>> '{subject,sex}', ''), NULLIF(j #>> '{subject,age_band}', ''),
  CASE WHEN jsonb_typeof(j #> '{values,systolic_mmhg}') = 'number'
       THEN (j #>> '{values,systolic_mmhg}')::float8 END,
  CASE WHEN jsonb_typeof(j #> '{values,diastolic_mmhg}') = 'number'
       THEN (j #>> '{values,diastolic_mmhg}')::float8 END,
  CASE WHEN jsonb_typeof(j #> '{values,glucose_mgdl}') = 'number'
       THEN (j #>> '{values,glucose_mgdl}')::float8 END,
  j #>> '{values,meal}',
  COALESCE(j #> '{values,hi}' = 'true'::jsonb, false),
  COALESCE(j #> '{values,lo}' = 'true'::jsonb, false),
  COALESCE(j #> '{values,control_solution}' = 'true'::jsonb, false)
FROM (
  SELECT r.id, r.gateway_id, r.kind, r.measured_at, r.received_at, r.payload::jsonb AS j
  FROM readings r
  WHERE r.received_at >= %(since)s
  OFFSET 0
) AS new
ON CONFLICT (reading_id) DO NOTHING
"""


_FILL_SQLITE = """
INSERT INTO cascade_facts (reading_id, gateway_id, kind, measured_at, measured_ms,
  received_at, pseudonym, region, sex, age_band, systolic, diastolic, glucose, meal, hi, lo,
  control)
SELECT id, gateway_id, kind, measured_at,
  CAST(round((julianday(measured_at) - 2440587.5) * 86400000) AS INTEGER), received_at,
  NULLIF(json_extract(payload, '$.subject.pseudonym'), ''),
  CASE WHEN json_extract(payload, '$.subject.region')
            GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]'
       THEN CAST(json_extract(payload, '$.subject.region') AS INTEGER) END,
  NULLIF(json_extract(payload, '$.subject.sex'), ''),
  NULLIF(json_extract(payload, '$.subject.age_band'), ''),
  CASE WHEN json_type(payload, '$.values.systolic_mmhg') IN ('integer', 'real')
       THEN json_extract(payload, '$.values.systolic_mmhg') END,
  CASE WHEN json_type(payload, '$.values.diastolic_mmhg') IN ('integer', 'real')
       THEN json_extract(payload, '$.values.diastolic_mmhg') END,
  CASE WHEN json_type(payload, '$.values.glucose_mgdl') IN ('integer', 'real')
       THEN json_extract(payload, '$.values.glucose_mgdl') END,
  json_extract(payload, '$.values.meal'),
  COALESCE(json_type(payload, '$.values.hi') = 'true', 0),
  COALESCE(json_type(payload, '$.values.lo') = 'true', 0),
  COALESCE(json_type(payload, '$.values.control_solution') = 'true', 0)
FROM readings r
WHERE r.received_at >= :since
ON CONFLICT (reading_id) DO NOTHING
"""

# A digit each for sex and age band in the per-resident keys; _OTHER: a value the page has no
# line for (counted as screened, not by sex or band).
_SEX_CODES = {"female": 1, "male": 2}
_SEX_UNKNOWN = 0
_SEX_OF_CODE = {1: "female", 2: "male", _SEX_UNKNOWN: UNKNOWN}
_BAND_CODES = {band: i for i, band in enumerate(AGE_BAND_ORDER[:-1])}
_BAND_UNKNOWN = len(AGE_BAND_ORDER) - 1
_BAND_OF_CODE = dict(enumerate(AGE_BAND_ORDER))
_OTHER = 9

# How far a referral's current status says the follow-up got (module docstring).
REFERRED = frozenset({Status.CONTACTED, Status.CAME, Status.CONFIRMED, Status.NOT_CONFIRMED})
CAME = frozenset({Status.CAME, Status.CONFIRMED, Status.NOT_CONFIRMED})
CONFIRMED = frozenset({Status.CONFIRMED})


def refresh_facts(engine: Engine) -> int:
    """File the readings stored since the last scan in `cascade_facts`; returns how many.

    Safe to run concurrently: a reading already filed is skipped by its key, and the mark
    only moves forward.
    """
    with engine.begin() as conn:
        mark = conn.execute(
            sa.select(cascade_scan.c.received_at).where(cascade_scan.c.name == _SCAN_NAME)
        ).scalar_one_or_none()
        # Read before filing: a reading stamped later is left for the next scan.
        newest = conn.execute(sa.select(sa.func.max(readings.c.received_at))).scalar_one()
        if newest is None:
            return 0
        since = float(mark) - _SCAN_OVERLAP_S if mark is not None else -1.0
        if conn.dialect.name == "postgresql":
            filed = conn.exec_driver_sql(_FILL_POSTGRESQL, {"since": since}).rowcount
        else:
            filed = conn.execute(sa.text(_FILL_SQLITE), {"since": since}).rowcount
        newest = float(newest)
        if mark is None:
            insert = _insert_ignoring(conn.dialect.name)
            conn.execute(insert, {"name": _SCAN_NAME, "received_at": newest})
        if mark is None or newest > float(mark):
            conn.execute(
                cascade_scan.update()
                .where(cascade_scan.c.name == _SCAN_NAME, cascade_scan.c.received_at < newest)
                .values(received_at=newest)
            )
    return max(int(filed), 0)


def _insert_ignoring(dialect: str) -> sa.Insert:
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(cascade_scan).on_conflict_do_nothing(index_elements=["name"])
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(cascade_scan).on_conflict_do_nothing(index_elements=["name"])


@dataclass(frozen=True, slots=True)
class _Resident:
    """One resident's latest categories in a place and period, as counted (ranks, not names)."""

    bp: int | None  # index in BP_CATEGORIES
    glucose: int | None  # index in GLUCOSE_CATEGORIES
    urgent: bool


class CascadeQueries:
    def __init__(
        self,
        engine: Engine,
        wilayah: Wilayah,
        rules: CascadeRules = DEFAULT_RULES,
        zone: ZoneInfo = DEFAULT_ZONE,
    ) -> None:
        self._engine = engine
        self._wilayah = wilayah
        self._rules = rules
        self._zone = zone

    def cascade(self, win: Window, place: Place, *, whole_city: bool = False) -> Cascade:
        """Counts for `place` and a line per child place.

        `whole_city`: the caller sees every kelurahan, so at city level readings of gateways
        with no known site count too (they belong to no kelurahan, so to no child).
        """
        refresh_facts(self._engine)
        unplaced = whole_city and place.level is Level.CITY
        counts = self._counts(win, place, include_unplaced=unplaced)
        children = []
        kids = children_of(self._wilayah, place)
        per_child = self._child_counts(win, kids) if kids else {}
        for child in kids:
            screened, positive, urgent = per_child.get(child.code, (0, 0, 0))
            target = self._target(child)
            coverage = screened / target if target else None
            children.append(Child(child, screened, positive, urgent, target, coverage))
        return Cascade(win, place, counts, tuple(children))

    def _sites(self, place: Place) -> list[str]:
        if place.level is Level.SITE:
            return [place.code]
        return sorted(s.id for s in self._wilayah.sites.values() if s.kelurahan in place.kelurahan)

    # --- SQL ---------------------------------------------------------------------------------
    # Every threshold is whole-unit after rounding half up (cascade_rules.whole); for a whole
    # bound b, whole(x) >= b exactly when x >= b - 0.5, so SQL compares the raw value.

    def _bp_rank(self) -> sa.ColumnElement[int]:
        f, rules = cascade_facts.c, self._rules

        def reached(
            value: sa.ColumnElement[float], bounds: tuple[int, ...]
        ) -> sa.ColumnElement[int]:
            total: sa.ColumnElement[int] = sa.literal(0)
            for bound in bounds:
                total = total + sa.case((value >= bound - 0.5, 1), else_=0)
            return total

        sys_rank = reached(f.systolic, rules.bp_systolic_from)
        dia_rank = reached(f.diastolic, rules.bp_diastolic_from)
        return sa.case((sys_rank >= dia_rank, sys_rank), else_=dia_rank)

    def _glucose_rank(self) -> sa.ColumnElement[int]:
        f, rules = cascade_facts.c, self._rules
        fasting = sa.func.coalesce(f.meal, "") == "fasting"
        index = {name: i for i, name in enumerate(GLUCOSE_CATEGORIES)}
        return sa.case(
            (f.hi, index["suspected"]),
            (f.lo, index["low"]),
            (f.glucose < rules.glucose_urgent_below - 0.5, index["low"]),
            (
                sa.and_(fasting, f.glucose >= rules.glucose_fasting_suspected_from - 0.5),
                index["suspected"],
            ),
            (
                sa.and_(fasting, f.glucose >= rules.glucose_fasting_borderline_from - 0.5),
                index["borderline"],
            ),
            (fasting, index["normal"]),
            (f.glucose >= rules.glucose_random_suspected_from - 0.5, index["suspected"]),
            (f.glucose >= rules.glucose_random_borderline_from - 0.5, index["borderline"]),
            else_=index["normal"],
        )

    def _per_resident(
        self,
    ) -> tuple[sa.ColumnElement[int], sa.ColumnElement[int], sa.ColumnElement[int]]:
        """max() keys of the latest BP and glucose category (epoch ms * 10 + the category's
        index: the latest reading's is the last digit) and whether any reading was urgent."""
        f, rules = cascade_facts.c, self._rules
        is_bp = sa.and_(
            f.kind == "blood_pressure", f.systolic.is_not(None), f.diastolic.is_not(None)
        )
        is_glucose = sa.and_(f.kind == "glucose", sa.or_(f.hi, f.lo, f.glucose.is_not(None)))
        bp_key = sa.func.max(sa.case((is_bp, f.measured_ms * 10 + self._bp_rank()), else_=None))
        glucose_key = sa.func.max(
            sa.case(
                (is_glucose, f.measured_ms * 10 + self._glucose_rank()),
                else_=None,
            )
        )
        bp_urgent = sa.and_(
            is_bp,
            sa.or_(
                f.systolic >= rules.bp_urgent_systolic_above + 0.5,
                f.diastolic >= rules.bp_urgent_diastolic_above + 0.5,
            ),
        )
        glucose_urgent = sa.and_(
            f.kind == "glucose",
            sa.or_(
                f.hi,
                f.lo,
                f.glucose < rules.glucose_urgent_below - 0.5,
                f.glucose >= rules.glucose_urgent_from - 0.5,
            ),
        )
        urgent = sa.func.max(sa.case((sa.or_(bp_urgent, glucose_urgent), 1), else_=0))
        return bp_key, glucose_key, urgent

    def _base(self, win: Window) -> sa.Select[tuple[object, ...]]:
        start, end = win.utc_bounds(self._zone)
        f = cascade_facts.c
        # A control-solution test is the meter's, an unbound reading nobody's.
        return (
            sa.select()
            .select_from(
                cascade_facts.outerjoin(
                    fleet_gateways, fleet_gateways.c.gateway_id == cascade_facts.c.gateway_id
                )
            )
            .where(
                f.measured_at >= start,
                f.measured_at < end,
                f.pseudonym.is_not(None),
                sa.not_(f.control),
            )
        )

    def _mapping(self, pairs: Mapping[str, str]) -> sa.TableValuedAlias:
        """site id -> child code as a table the query joins (one bound JSON object)."""
        document = json.dumps(dict(pairs), separators=(",", ":"))
        if self._engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            function = sa.func.jsonb_each_text(sa.cast(sa.literal(document), JSONB))
        else:
            function = sa.func.json_each(sa.literal(document))
        return function.table_valued("key", "value").alias("place_map")

    def _counts(self, win: Window, place: Place, *, include_unplaced: bool) -> Counts:
        f = cascade_facts.c
        bp_key, glucose_key, urgent = self._per_resident()
        sex = sa.case(
            *((f.sex == name, code) for name, code in _SEX_CODES.items()),
            (f.sex.is_(None), _SEX_UNKNOWN),
            else_=_OTHER,  # a value the page has no line for: not counted by sex
        )
        band = sa.case(
            *((f.age_band == name, code) for name, code in _BAND_CODES.items()),
            (f.age_band.is_(None), _BAND_UNKNOWN),
            else_=_OTHER,
        )
        # The resident's own details are those of their latest reading: the time first, so
        # max() picks it, then a digit each for sex and band; the region (six digits) apart.
        details = sa.func.max(f.measured_ms * 100 + sex * 10 + band)
        region = sa.func.max(f.measured_ms * 1_000_000 + sa.func.coalesce(f.region, 0))
        query = self._base(win).add_columns(
            details.label("details"),
            region.label("region"),
            bp_key.label("bp_key"),
            glucose_key.label("glucose_key"),
            urgent.label("urgent"),
        )
        sites: list[str] | None = None  # None: every gateway's readings, placed or not
        if not include_unplaced:
            sites = self._sites(place)
            if not sites:
                return self._summarise(Counter(), (0, 0, 0), place)
            query = query.where(fleet_gateways.c.site_id.in_(sites))
        per = query.group_by(f.pseudonym).subquery("per")
        columns = (
            per.c.details % 100,
            per.c.region % 1_000_000,
            per.c.bp_key % 10,
            per.c.glucose_key % 10,
            per.c.urgent,
        )
        outer = sa.select(*columns, sa.func.count()).group_by(*columns)
        combos: Counter[tuple[int, int, int, int | None, int | None, bool]] = Counter()
        with self._engine.connect() as conn:
            for details_c, region_c, bp_c, glucose_c, urgent_c, n in conn.execute(outer):
                key = (
                    int(details_c) // 10,
                    int(details_c) % 10,
                    int(region_c),
                    None if bp_c is None else int(bp_c),
                    None if glucose_c is None else int(glucose_c),
                    bool(urgent_c),
                )
                combos[key] += int(n)
            followed = self._followed_up(conn, win, sites)
        return self._summarise(combos, followed, place)

    def _followed_up(
        self, conn: Connection, win: Window, sites: Sequence[str] | None
    ) -> tuple[int, int, int]:
        """(referred, came, confirmed): residents of the period and place whose referral got
        that far, placed and dated by the readings filed under it (module docstring)."""
        r = referrals.c

        def residents(statuses: frozenset[Status]) -> sa.ColumnElement[int]:
            wanted = sa.case((r.status.in_(sorted(s.value for s in statuses)), r.pseudonym))
            return sa.func.count(sa.distinct(wanted))

        query = (
            self._base(win)
            .join(referral_readings, referral_readings.c.reading_id == cascade_facts.c.reading_id)
            .join(referrals, r.id == referral_readings.c.referral_id)
            .add_columns(residents(REFERRED), residents(CAME), residents(CONFIRMED))
            # Only the statuses counted: the rest (most referrals are new) drop out here.
            .where(r.status.in_(sorted(s.value for s in REFERRED)))
        )
        if sites is not None:
            query = query.where(fleet_gateways.c.site_id.in_(sites))
        referred, came, confirmed = conn.execute(query).one()
        return int(referred), int(came), int(confirmed)

    def _summarise(
        self,
        combos: Counter[tuple[int, int, int, int | None, int | None, bool]],
        followed: tuple[int, int, int],
        place: Place,
    ) -> Counts:
        sexes: Counter[str] = Counter()
        bands: Counter[str] = Counter()
        regions: Counter[str] = Counter()
        bp: Counter[str] = Counter()
        glucose: Counter[str] = Counter()
        positive = urgent = screened = 0
        for (sex_c, band_c, region, bp_c, glucose_c, urgent_c), n in combos.items():
            screened += n
            if sex_c in _SEX_OF_CODE:
                sexes[_SEX_OF_CODE[sex_c]] += n
            if band_c in _BAND_OF_CODE:
                bands[_BAND_OF_CODE[band_c]] += n
            regions[f"{region:06d}" if region else UNKNOWN] += n
            if bp_c is not None:
                bp[BP_CATEGORIES[bp_c]] += n
            if glucose_c is not None:
                glucose[GLUCOSE_CATEGORIES[glucose_c]] += n
            if self._positive(_Resident(bp_c, glucose_c, urgent_c)):
                positive += n
            if urgent_c:
                urgent += n
        referred, came, confirmed = followed
        target = self._target(place)
        return Counts(
            screened=screened,
            by_sex={s: sexes.get(s, 0) for s in SEXES},
            by_age_band={b: bands.get(b, 0) for b in AGE_BAND_ORDER},
            by_region=dict(sorted(regions.items())),
            bp={c: bp.get(c, 0) for c in BP_CATEGORIES},
            glucose={c: glucose.get(c, 0) for c in GLUCOSE_CATEGORIES},
            positive=positive,
            urgent=urgent,
            referred=referred,
            came=came,
            confirmed=confirmed,
            target=target,
            coverage=screened / target if target else None,
        )

    def _positive(self, resident: _Resident) -> bool:
        rules = self._rules
        if resident.urgent:
            return True
        if resident.bp is not None and bp_positive(BP_CATEGORIES[resident.bp], rules):
            return True
        return resident.glucose is not None and glucose_positive(
            GLUCOSE_CATEGORIES[resident.glucose], rules
        )

    def _child_counts(self, win: Window, kids: Sequence[Place]) -> dict[str, tuple[int, int, int]]:
        """child code -> (screened, positive, urgent); a resident counts once per child."""
        pairs: dict[str, str] = {}
        for child in kids:
            for site in self._sites(child):
                pairs[site] = child.code
        if not pairs:
            return {}
        f = cascade_facts.c
        mapping = self._mapping(pairs)
        bp_key, glucose_key, urgent = self._per_resident()
        per = (
            self._base(win)
            .join(mapping, mapping.c.key == fleet_gateways.c.site_id)
            .add_columns(
                mapping.c.value.label("child"),
                bp_key.label("bp_key"),
                glucose_key.label("glucose_key"),
                urgent.label("urgent"),
            )
            .group_by(mapping.c.value, f.pseudonym)
            .subquery("per")
        )
        columns = (per.c.child, per.c.bp_key % 10, per.c.glucose_key % 10, per.c.urgent)
        outer = sa.select(*columns, sa.func.count()).group_by(*columns)
        found: dict[str, tuple[int, int, int]] = {}
        with self._engine.connect() as conn:
            for child, bp_c, glucose_c, urgent_c, n in conn.execute(outer):
                resident = _Resident(
                    None if bp_c is None else int(bp_c),
                    None if glucose_c is None else int(glucose_c),
                    bool(urgent_c),
                )
                screened, positive, urgent_n = found.get(str(child), (0, 0, 0))
                found[str(child)] = (
                    screened + int(n),
                    positive + (int(n) if self._positive(resident) else 0),
                    urgent_n + (int(n) if resident.urgent else 0),
                )
        return found

    def _target(self, place: Place) -> int | None:
        # A site has no population of its own; a place with any kelurahan lacking a figure has
        # no honest total either.
        if place.level is Level.SITE or not place.kelurahan:
            return None
        figures = [self._wilayah.kelurahan[k].target_15_plus for k in place.kelurahan]
        if any(f is None for f in figures):
            return None
        return sum(f for f in figures if f is not None)
