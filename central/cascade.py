"""The screening cascade for one period and one place: who was screened, and what was found.

A reading is placed by its gateway: `fleet_gateways.site_id` -> the wilayah file's site ->
kelurahan -> kecamatan. The resident is counted once per period by pseudonym (never by NIK);
their sex, age band and registered kecamatan come from payload v2's subject (v1 readings have
none: "unknown"). Each resident's BP and glucose category is that of their *latest* reading of
the kind in the period: the kiosk asks for a repeat after rest when a value is high, and the
rested value is the one a Puskesmas would act on, and screen-positive follows those latest
categories. Urgent counts a resident if any reading of the period was: an urgent result is
acted on at once, whatever came after it.

Payload fields are read in SQL with each dialect's JSON functions (SQLite `json_extract`,
PostgreSQL `jsonb_extract_path_text`), so the write path and the schema stay as they are; the
period filter is on the stored `measured_at` text (RFC 3339 UTC sorts as time). Categories are
decided in Python by central/cascade_rules.py, so the thresholds are configuration.

Referred / came / confirmed come from the referral worklist's `referrals` table: until that
table exists they are None (the page says "belum tersedia").
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from central.cascade_rules import (
    BP_CATEGORIES,
    DEFAULT_RULES,
    GLUCOSE_CATEGORIES,
    CascadeRules,
    bp_category,
    bp_positive,
    bp_urgent,
    glucose_category,
    glucose_positive,
    glucose_urgent,
)
from central.errors import CentralError
from central.fleet_store import fleet_gateways
from central.store import readings
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
    # None until the referral worklist's table exists.
    referred: int | None
    came: int | None
    confirmed: int | None
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


@dataclass(frozen=True, slots=True)
class _Row:
    site_id: str | None
    pseudonym: str
    kind: str
    measured_at: str
    region: str | None
    sex: str | None
    age_band: str | None
    systolic: float | None
    diastolic: float | None
    glucose: float | None
    meal: str | None
    hi: bool
    lo: bool


def _field(engine: Engine, *path: str) -> sa.ColumnElement[str]:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return sa.func.jsonb_extract_path_text(sa.cast(readings.c.payload, JSONB), *path)
    return sa.func.json_extract(readings.c.payload, "$." + ".".join(path))


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(str(value))
    except ValueError:
        return None


def _flag(value: object) -> bool:
    # SQLite hands JSON true back as 1, PostgreSQL's text extraction as "true".
    return value in (1, True, "true", "1")


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
        unplaced = whole_city and place.level is Level.CITY
        rows = self._rows(win, place, include_unplaced=unplaced)
        counts = self._count(rows, place)
        children = []
        for child in children_of(self._wilayah, place):
            mine = [r for r in rows if self._in(r, child)]
            c = self._count(mine, child)
            children.append(Child(child, c.screened, c.positive, c.urgent, c.target, c.coverage))
        return Cascade(win, place, counts, tuple(children))

    def _in(self, row: _Row, place: Place) -> bool:
        if place.level is Level.SITE:
            return row.site_id == place.code
        return self._wilayah.kelurahan_of_site(row.site_id) in place.kelurahan

    def _sites(self, place: Place) -> list[str]:
        if place.level is Level.SITE:
            return [place.code]
        return sorted(s.id for s in self._wilayah.sites.values() if s.kelurahan in place.kelurahan)

    def _rows(self, win: Window, place: Place, *, include_unplaced: bool) -> list[_Row]:
        start, end = win.utc_bounds(self._zone)
        e = self._engine
        query = (
            sa.select(
                fleet_gateways.c.site_id,
                _field(e, "subject", "pseudonym"),
                readings.c.kind,
                readings.c.measured_at,
                _field(e, "subject", "region"),
                _field(e, "subject", "sex"),
                _field(e, "subject", "age_band"),
                _field(e, "values", "systolic_mmhg"),
                _field(e, "values", "diastolic_mmhg"),
                _field(e, "values", "glucose_mgdl"),
                _field(e, "values", "meal"),
                _field(e, "values", "hi"),
                _field(e, "values", "lo"),
                _field(e, "values", "control_solution"),
            )
            .select_from(
                readings.outerjoin(
                    fleet_gateways, fleet_gateways.c.gateway_id == readings.c.gateway_id
                )
            )
            .where(readings.c.measured_at >= start, readings.c.measured_at < end)
        )
        if not include_unplaced:
            sites = self._sites(place)
            if not sites:
                return []
            query = query.where(fleet_gateways.c.site_id.in_(sites))
        found: list[_Row] = []
        with e.connect() as conn:
            for row in conn.execute(query):
                pseudonym = row[1]
                # An unbound reading has no resident; a control-solution test is the meter's.
                if not pseudonym or _flag(row[13]):
                    continue
                found.append(
                    _Row(
                        site_id=row[0],
                        pseudonym=str(pseudonym),
                        kind=str(row[2]),
                        measured_at=str(row[3]),
                        region=str(row[4]) if row[4] else None,
                        sex=str(row[5]) if row[5] else None,
                        age_band=str(row[6]) if row[6] else None,
                        systolic=_number(row[7]),
                        diastolic=_number(row[8]),
                        glucose=_number(row[9]),
                        meal=str(row[10]) if row[10] else None,
                        hi=_flag(row[11]),
                        lo=_flag(row[12]),
                    )
                )
        return found

    def _count(self, rows: Sequence[_Row], place: Place) -> Counts:
        rules = self._rules
        latest: dict[str, _Row] = {}
        latest_bp: dict[str, str] = {}
        latest_glucose: dict[str, str] = {}
        bp_at: dict[str, str] = {}
        glucose_at: dict[str, str] = {}
        urgent: set[str] = set()
        for r in rows:
            who = r.pseudonym
            if who not in latest or r.measured_at >= latest[who].measured_at:
                latest[who] = r
            if r.kind == "blood_pressure" and r.systolic is not None and r.diastolic is not None:
                category = bp_category(r.systolic, r.diastolic, rules)
                if who not in bp_at or r.measured_at >= bp_at[who]:
                    bp_at[who], latest_bp[who] = r.measured_at, category
                if bp_urgent(r.systolic, r.diastolic, rules):
                    urgent.add(who)
            elif r.kind == "glucose":
                fasting = r.meal == "fasting"
                g = glucose_category(r.glucose, fasting=fasting, hi=r.hi, lo=r.lo, rules=rules)
                if g is None:
                    continue
                if who not in glucose_at or r.measured_at >= glucose_at[who]:
                    glucose_at[who], latest_glucose[who] = r.measured_at, g
                if glucose_urgent(r.glucose, hi=r.hi, lo=r.lo, rules=rules):
                    urgent.add(who)
        positive = {w for w, c in latest_bp.items() if bp_positive(c, rules)}
        positive |= {w for w, c in latest_glucose.items() if glucose_positive(c, rules)}
        positive |= urgent
        # A resident's own details are taken from their latest reading (a v1 one has none).
        sexes = Counter(r.sex or UNKNOWN for r in latest.values())
        bands = Counter(r.age_band or UNKNOWN for r in latest.values())
        regions = Counter(r.region or UNKNOWN for r in latest.values())
        referred = came = confirmed = None  # the worklist's table does not exist yet
        target = self._target(place)
        screened = len(latest)
        return Counts(
            screened=screened,
            by_sex={s: sexes.get(s, 0) for s in SEXES},
            by_age_band={b: bands.get(b, 0) for b in AGE_BAND_ORDER},
            by_region=dict(sorted(regions.items())),
            bp={c: Counter(latest_bp.values()).get(c, 0) for c in BP_CATEGORIES},
            glucose={c: Counter(latest_glucose.values()).get(c, 0) for c in GLUCOSE_CATEGORIES},
            positive=len(positive),
            urgent=len(urgent),
            referred=referred,
            came=came,
            confirmed=confirmed,
            target=target,
            coverage=screened / target if target else None,
        )

    def _target(self, place: Place) -> int | None:
        # A site has no population of its own; a place with any kelurahan lacking a figure has
        # no honest total either.
        if place.level is Level.SITE or not place.kelurahan:
            return None
        figures = [self._wilayah.kelurahan[k].target_15_plus for k in place.kelurahan]
        if any(f is None for f in figures):
            return None
        return sum(f for f in figures if f is not None)

    def referrals_available(self) -> bool:
        return sa.inspect(self._engine).has_table("referrals")
