"""The cascade's counts at each level, period and scope, on SQLite and PostgreSQL, from the
known screenings of cascade_seed.py (expected numbers worked out by hand from its table)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from central.cascade import (
    CascadeQueries,
    Level,
    Period,
    Place,
    resolve_place,
    window,
)

from .cascade_seed import WILAYAH, seed

DEC_2 = date(2026, 12, 2)
WILAYAH_A = frozenset({"6471011001", "6471011002"})


@pytest.fixture
def queries(central_db_url: str) -> Iterator[CascadeQueries]:
    seed(central_db_url)
    engine = sa.create_engine(central_db_url)
    try:
        yield CascadeQueries(engine, WILAYAH)
    finally:
        engine.dispose()


def place(visible: frozenset[str] | None = None, **where: str) -> Place:
    found = resolve_place(WILAYAH, visible, **where)
    assert found is not None
    return found


def test_city_month_for_the_whole_city(queries: CascadeQueries) -> None:
    result = queries.cascade(window(Period.MONTH, DEC_2), place(), whole_city=True)
    c = result.counts
    assert c.screened == 7  # P1-P7; P8 is 30 November in Balikpapan; the unbound one no-one
    assert dict(c.by_sex) == {"female": 3, "male": 3, "unknown": 1}
    assert c.by_age_band["40-49"] == 1
    assert c.by_age_band["unknown"] == 1
    assert c.by_age_band["<15"] == 0
    assert sum(c.by_age_band.values()) == 7
    assert dict(c.by_region) == {"647101": 4, "647102": 1, "647106": 1, "unknown": 1}
    assert dict(c.bp) == {
        "optimal": 1, "normal": 1, "high_normal": 1, "grade_1": 0, "grade_2": 1, "grade_3": 1,
    }  # fmt: skip
    # P2's 400 mg/dL was control solution: not theirs, not counted.
    assert dict(c.glucose) == {"low": 1, "normal": 0, "borderline": 1, "suspected": 1}
    assert c.positive == 4  # P2, P3, P4, P6 (P1's latest values are not)
    assert c.urgent == 3  # P2 crisis, P4 HI, P6 hypo
    assert (c.referred, c.came, c.confirmed) == (0, 0, 0)  # nobody followed up yet
    assert c.target is None  # Damai has no figure: no honest city total
    assert c.coverage is None
    kids = {k.place.code: (k.screened, k.positive, k.urgent, k.target) for k in result.children}
    # P5's gateway is in no kelurahan: in the city's total, in no kecamatan.
    assert kids == {"647101": (5, 3, 2, None), "647102": (1, 1, 1, 500)}
    assert [k.place.name for k in result.children] == ["Balikpapan Selatan", "Balikpapan Timur"]
    assert result.children[1].coverage == pytest.approx(1 / 500)


def test_kecamatan_kelurahan_and_site(queries: CascadeQueries) -> None:
    month = window(Period.MONTH, DEC_2)
    kec = queries.cascade(month, place(kecamatan="647101"))
    assert kec.counts.screened == 5
    assert {k.place.code: (k.screened, k.positive, k.urgent) for k in kec.children} == {
        "6471011001": (3, 2, 2),
        "6471011002": (2, 1, 0),
    }
    sepinggan = queries.cascade(month, place(kelurahan="6471011001"))
    assert sepinggan.counts.screened == 3
    assert sepinggan.counts.target == 1000
    assert sepinggan.counts.coverage == pytest.approx(3 / 1000)
    assert {k.place.code: k.screened for k in sepinggan.children} == {
        "kios-sepinggan": 3,
        "kit-sepinggan": 1,
    }
    kit = queries.cascade(month, place(site="kit-sepinggan"))
    assert kit.place.level is Level.SITE
    assert kit.counts.screened == 1
    assert kit.counts.glucose["borderline"] == 1
    assert kit.counts.target is None  # a site has no population of its own
    assert kit.children == ()


def test_periods_follow_the_city_clock(queries: CascadeQueries) -> None:
    damai = place(kelurahan="6471011002")
    # 00:30 WITA on 1 December is P7's; P8's 23:30 on 30 November is not.
    assert queries.cascade(window(Period.DAY, date(2026, 12, 1)), damai).counts.screened == 1
    assert queries.cascade(window(Period.DAY, date(2026, 11, 30)), damai).counts.screened == 1
    # The week began on Monday 30 November: P8 too.
    assert queries.cascade(window(Period.WEEK, DEC_2), damai).counts.screened == 3
    assert queries.cascade(window(Period.MONTH, DEC_2), damai).counts.screened == 2
    assert queries.cascade(window(Period.YEAR, DEC_2), damai).counts.screened == 3
    # P1's November grade 2 is in the year, but their latest (December) value decides.
    year = queries.cascade(window(Period.YEAR, DEC_2), place(kelurahan="6471011001")).counts
    assert year.bp["normal"] == 1
    assert year.bp["grade_2"] == 0
    nov = queries.cascade(window(Period.MONTH, date(2026, 11, 20)), place(kelurahan="6471011001"))
    assert nov.counts.bp["grade_2"] == 1
    assert nov.counts.positive == 1


def test_a_scoped_user_sees_only_their_wilayah(queries: CascadeQueries) -> None:
    month = window(Period.MONTH, DEC_2)
    city = queries.cascade(month, place(WILAYAH_A))
    assert city.counts.screened == 5  # neither Manggar's P4 nor the unplaced P5
    assert [k.place.code for k in city.children] == ["647101"]
    # Another wilayah's kecamatan, kelurahan or site resolves to nothing at all.
    assert resolve_place(WILAYAH, WILAYAH_A, kecamatan="647102") is None
    assert resolve_place(WILAYAH, WILAYAH_A, kelurahan="6471021001") is None
    assert resolve_place(WILAYAH, WILAYAH_A, site="kios-manggar") is None
    assert resolve_place(WILAYAH, frozenset(), kecamatan="647101") is None
    empty = queries.cascade(month, place(frozenset()))
    assert empty.counts.screened == 0
    assert empty.children == ()


def test_unknown_places_resolve_to_nothing() -> None:
    assert resolve_place(WILAYAH, None, kecamatan="999999") is None
    assert resolve_place(WILAYAH, None, kelurahan="6471019999") is None
    assert resolve_place(WILAYAH, None, site="kios-luar") is None


def test_windows() -> None:
    assert window(Period.WEEK, DEC_2).start == date(2026, 11, 30)  # a Monday
    assert window(Period.MONTH, date(2026, 12, 31)).end == date(2027, 1, 1)
    assert window(Period.YEAR, DEC_2).start == date(2026, 1, 1)
    assert window(Period.MONTH, DEC_2).utc_bounds(ZoneInfo("Asia/Makassar")) == (
        "2026-11-30T16:00:00.000Z",
        "2026-12-31T16:00:00.000Z",
    )
