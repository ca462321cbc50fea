"""Referred / came / confirmed: the cascade counts how far the worklist got with the residents
screened in the period and place, on SQLite and PostgreSQL (cascade_seed.FOLLOW_UPS; the
expected numbers are worked out by hand from it and the seed table)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa

from central.cascade import CascadeQueries, Period, Place, Window, resolve_place, window
from central.referrals import ReferralBook

from .cascade_seed import WILAYAH, follow_up, seed

DEC_2 = date(2026, 12, 2)
MONTH = window(Period.MONTH, DEC_2)
WILAYAH_A = frozenset({"6471011001", "6471011002"})


@pytest.fixture
def engine(central_db_url: str) -> Iterator[sa.Engine]:
    seed(central_db_url)
    engine = sa.create_engine(central_db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def place(visible: frozenset[str] | None = None, **where: str) -> Place:
    found = resolve_place(WILAYAH, visible, **where)
    assert found is not None
    return found


def followed(queries: CascadeQueries, *, visible: frozenset[str] | None = None,
             whole_city: bool = False, win: Window = MONTH, **where: str
             ) -> tuple[int, int, int]:  # fmt: skip
    c = queries.cascade(win, place(visible, **where), whole_city=whole_city).counts
    return c.referred, c.came, c.confirmed


def test_nothing_followed_up_counts_zero_not_unknown(engine: sa.Engine) -> None:
    queries = CascadeQueries(engine, WILAYAH)
    assert followed(queries, whole_city=True) == (0, 0, 0)
    # Referrals filed but none reached yet: still nobody referred.
    ReferralBook(engine, lambda: 0.0, WILAYAH).refresh()
    assert followed(queries, whole_city=True) == (0, 0, 0)


def test_each_level_counts_how_far_the_follow_up_got(
    engine: sa.Engine, central_db_url: str
) -> None:
    follow_up(central_db_url)
    queries = CascadeQueries(engine, WILAYAH)
    # P1 contacted, P2 and P4 confirmed, P6 came (not confirmed); P3 unreachable: not referred.
    assert followed(queries, whole_city=True) == (4, 3, 2)
    # Balikpapan Selatan: P1, P2, P6 at Sepinggan; Damai's P3 was never reached.
    assert followed(queries, kecamatan="647101") == (3, 2, 1)
    assert followed(queries, kelurahan="6471011002") == (0, 0, 0)
    assert followed(queries, kelurahan="6471021001") == (1, 1, 1)  # Manggar: P4
    assert followed(queries, site="kios-sepinggan") == (3, 2, 1)
    # P1's fasting test at the kit was normal: no referral reading there.
    assert followed(queries, site="kit-sepinggan") == (0, 0, 0)
    # Never more than were screened, and in cascade order.
    counts = queries.cascade(MONTH, place(), whole_city=True).counts
    assert counts.screened >= counts.referred >= counts.came >= counts.confirmed


def test_the_period_is_that_of_the_readings_under_the_referral(
    engine: sa.Engine, central_db_url: str
) -> None:
    follow_up(central_db_url)
    queries = CascadeQueries(engine, WILAYAH)
    sepinggan = {"kelurahan": "6471011001"}
    # P1's referral opened in November; their December 150/95 joined it: both months count P1.
    november = window(Period.MONTH, date(2026, 11, 20))
    assert followed(queries, win=november, **sepinggan) == (1, 0, 0)
    assert followed(queries, win=MONTH, **sepinggan) == (3, 2, 1)
    # 2 December: P1's 150/95, P2's crisis, P6's hypo; 1 December none of them.
    assert followed(queries, win=window(Period.DAY, DEC_2), **sepinggan) == (3, 2, 1)
    assert followed(queries, win=window(Period.DAY, date(2026, 12, 1)), **sepinggan) == (0, 0, 0)
    # The year: each resident once, whichever of their readings placed them.
    year = window(Period.YEAR, DEC_2)
    assert followed(queries, win=year, whole_city=True) == (4, 3, 2)


def test_a_scoped_user_counts_only_their_wilayah(engine: sa.Engine, central_db_url: str) -> None:
    follow_up(central_db_url)
    queries = CascadeQueries(engine, WILAYAH)
    # Manggar's confirmed P4 is not in wilayah A.
    assert followed(queries, visible=WILAYAH_A) == (3, 2, 1)
    assert followed(queries, visible=frozenset()) == (0, 0, 0)
