"""The cascade's cache (central/cascade_cache.py) answers what the uncached queries answer, on
SQLite and PostgreSQL: for every period, level and scope, after a late reading into a closed
period, after a gateway moves, and never with another scope's or another rule set's answer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import orjson
import pytest
import sqlalchemy as sa

from central.cascade import (
    Cascade,
    CascadeQueries,
    Period,
    Place,
    cascade_scan,
    resolve_place,
    window,
)
from central.cascade_cache import CascadeCache, cache_for
from central.cascade_rules import DEFAULT_RULES
from central.fleet_store import fleet_gateways
from central.referrals import referral_events, referrals
from central.store import CentralStore, Incoming, readings

from .cascade_seed import WILAYAH, Seed, _payload, _utc, seed

DEC_2 = date(2026, 12, 2)
WILAYAH_A = frozenset({"6471011001", "6471011002"})  # Sepinggan and Damai
WILAYAH_B = frozenset({"6471021001"})  # Manggar


@pytest.fixture
def engine(central_db_url: str) -> Iterator[sa.Engine]:
    seed(central_db_url)
    engine = sa.create_engine(central_db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _place(visible: frozenset[str] | None = None, **where: str) -> Place:
    found = resolve_place(WILAYAH, visible, **where)
    assert found is not None
    return found


def _uncached(
    engine: sa.Engine, period: Period, place: Place, whole_city: bool, day: date = DEC_2
) -> Cascade:
    return CascadeQueries(engine, WILAYAH).cascade(
        window(period, day), place, whole_city=whole_city
    )


def _store(url: str, n: int, s: Seed) -> None:
    payload = _payload(n, s)
    data = orjson.loads(payload)
    store = CentralStore(url)
    try:
        incoming = Incoming(data["id"], s.gateway, data["kind"], data["measured_at"], payload)
        assert store.store([incoming]) == [incoming.id]
    finally:
        store.close()


SCOPES = [
    (None, True),  # Dinkes: the whole city, unplaced gateways included at city level
    (WILAYAH_A, False),  # a Puskesmas of two kelurahan
    (WILAYAH_B, False),  # another Puskesmas
]
PLACES = [{}, {"kecamatan": "647101"}, {"kelurahan": "6471011001"}, {"site": "kios-sepinggan"}]


def test_cached_answers_equal_uncached_for_every_period_place_and_scope(
    engine: sa.Engine,
) -> None:
    cache = CascadeCache()
    expected = {}
    for visible, whole_city in SCOPES:
        for where in PLACES:
            found = resolve_place(WILAYAH, visible, **where)
            if found is None:  # outside this Puskesmas' wilayah
                continue
            for period in Period:
                key = (visible, tuple(where.items()), period)
                expected[key] = _uncached(engine, period, found, whole_city)
                first = cache.cascade(
                    engine, WILAYAH, window(period, DEC_2), found, whole_city=whole_city
                )
                assert first == expected[key]
    assert cache.misses == len(expected) and cache.hits == 0
    # Asked again, in another order: every answer from memory, and still the uncached one.
    for (visible, where_items, period), answer in reversed(expected.items()):
        found = _place(visible, **dict(where_items))
        whole_city = visible is None
        again = cache.cascade(engine, WILAYAH, window(period, DEC_2), found, whole_city=whole_city)
        assert again == answer
    assert cache.hits == len(expected) and cache.misses == len(expected)


def test_scopes_never_share_an_answer(engine: sa.Engine) -> None:
    cache = CascadeCache()
    month = window(Period.MONTH, DEC_2)
    dinkes = cache.cascade(engine, WILAYAH, month, _place(), whole_city=True)
    # The same level and code (the city), limited to each Puskesmas' kelurahan.
    a = cache.cascade(engine, WILAYAH, month, _place(WILAYAH_A))
    b = cache.cascade(engine, WILAYAH, month, _place(WILAYAH_B))
    assert cache.hits == 0 and cache.misses == 3
    assert a == _uncached(engine, Period.MONTH, _place(WILAYAH_A), False)
    assert b == _uncached(engine, Period.MONTH, _place(WILAYAH_B), False)
    assert len({dinkes.counts.screened, a.counts.screened, b.counts.screened}) == 3
    # The whole city seen by someone not city-wide (no unplaced gateways) is its own answer.
    city_not_whole = cache.cascade(engine, WILAYAH, month, _place())
    assert city_not_whole == _uncached(engine, Period.MONTH, _place(), False)
    assert city_not_whole.counts.screened < dinkes.counts.screened
    assert cache.misses == 4


def test_a_late_reading_into_a_closed_period_changes_the_page(
    engine: sa.Engine, central_db_url: str
) -> None:
    cache = CascadeCache()
    november = window(Period.MONTH, date(2026, 11, 10))
    city = _place()
    before = cache.cascade(engine, WILAYAH, november, city, whole_city=True)
    assert cache.cascade(engine, WILAYAH, november, city, whole_city=True) is before
    # A kit syncs days later: measured in November, received now.
    late = Seed("P20", "gw-manggar", _utc(2026, 11, 20, 2, 0), bp=(190, 100))
    _store(central_db_url, 200, late)
    after = cache.cascade(engine, WILAYAH, november, city, whole_city=True)
    assert after.counts.screened == before.counts.screened + 1
    assert after.counts.urgent == before.counts.urgent + 1
    assert after == _uncached(engine, Period.MONTH, city, True, date(2026, 11, 10))
    # The year holding November changes too; December's month does not need to.
    year = cache.cascade(engine, WILAYAH, window(Period.YEAR, DEC_2), city, whole_city=True)
    assert year == _uncached(engine, Period.YEAR, city, True)


def test_a_reading_into_another_period_keeps_the_answer(
    engine: sa.Engine, central_db_url: str
) -> None:
    cache = CascadeCache()
    december = window(Period.MONTH, DEC_2)
    first = cache.cascade(engine, WILAYAH, december, _place(), whole_city=True)
    _store(central_db_url, 201, Seed("P21", "gw-manggar", _utc(2026, 10, 5, 2, 0), bp=(120, 70)))
    assert cache.cascade(engine, WILAYAH, december, _place(), whole_city=True) is first


def test_a_gateway_moved_to_another_site_changes_the_page(engine: sa.Engine) -> None:
    cache = CascadeCache()
    month = window(Period.MONTH, DEC_2)
    manggar = _place(kelurahan="6471021001")
    before = cache.cascade(engine, WILAYAH, month, manggar)
    with engine.begin() as conn:
        conn.execute(
            fleet_gateways.update()
            .where(fleet_gateways.c.gateway_id == "gw-damai")
            .values(site_id="kios-manggar")
        )
    after = cache.cascade(engine, WILAYAH, month, manggar)
    assert after == _uncached(engine, Period.MONTH, manggar, False)
    assert after.counts.screened > before.counts.screened


def _event(conn: sa.Connection, referral_id: int, kind: str) -> None:
    # As the worklist does with every change, in the change's own transaction.
    conn.execute(
        sa.insert(referral_events).values(
            referral_id=referral_id, at=1.0, username="budi", kind=kind, detail=""
        )
    )


def test_a_referral_change_counts_afresh(engine: sa.Engine) -> None:
    cache = CascadeCache()
    month = window(Period.MONTH, DEC_2)
    cache.cascade(engine, WILAYAH, month, _place(), whole_city=True)
    with engine.begin() as conn:
        referral_id = conn.execute(
            sa.insert(referrals).returning(referrals.c.id).values(
                pseudonym="p" * 64, episode=1, first_reading_id="seed-0", severity="urgent",
                first_measured_at="2026-12-02T01:00:00Z", due_date=DEC_2, status="new",
                kelurahan="6471011001", notes="", created_at=1.0, updated_at=1.0,
            )
        ).scalar_one()  # fmt: skip
        _event(conn, referral_id, "opened")
    cache.cascade(engine, WILAYAH, month, _place(), whole_city=True)
    assert cache.misses == 2
    with engine.begin() as conn:
        conn.execute(referrals.update().values(status="came", updated_at=2.0))
        _event(conn, referral_id, "status")
    cache.cascade(engine, WILAYAH, month, _place(), whole_city=True)
    assert cache.misses == 3 and cache.hits == 0
    cache.cascade(engine, WILAYAH, month, _place(), whole_city=True)
    assert cache.hits == 1


def test_other_thresholds_are_another_answer(engine: sa.Engine) -> None:
    cache = CascadeCache()
    month = window(Period.MONTH, DEC_2)
    city = _place()
    default = cache.cascade(engine, WILAYAH, month, city, whole_city=True)
    strict = replace(DEFAULT_RULES, positive_bp_from="high_normal")
    counted = cache.cascade(engine, WILAYAH, month, city, whole_city=True, rules=strict)
    assert cache.misses == 2
    assert counted == CascadeQueries(engine, WILAYAH, strict).cascade(month, city, whole_city=True)
    assert counted.counts.positive != default.counts.positive


def test_the_cache_is_bounded_and_per_engine(engine: sa.Engine, central_db_url: str) -> None:
    cache = CascadeCache(max_entries=2)
    city = _place()
    for period in (Period.DAY, Period.WEEK, Period.MONTH):
        cache.cascade(engine, WILAYAH, window(period, DEC_2), city, whole_city=True)
    assert len(cache) == 2
    cache.cascade(engine, WILAYAH, window(Period.DAY, DEC_2), city, whole_city=True)
    assert cache.misses == 4  # the oldest went first
    other = sa.create_engine(central_db_url)
    try:
        assert cache_for(engine) is cache_for(engine)
        assert cache_for(other) is not cache_for(engine)
    finally:
        other.dispose()


def test_a_reading_stamped_before_the_mark_is_still_seen(
    engine: sa.Engine, central_db_url: str
) -> None:
    # A reading whose transaction committed late carries a receive time before the fill's mark
    # (within the fill's look-back): the validator counts from before the mark, so it is seen.
    cache = CascadeCache()
    november = window(Period.MONTH, date(2026, 11, 10))
    before = cache.cascade(engine, WILAYAH, november, _place(), whole_city=True)
    with engine.connect() as conn:
        mark = conn.execute(sa.select(cascade_scan.c.received_at)).scalar_one()
    _store(central_db_url, 202, Seed("P22", "gw-damai", _utc(2026, 11, 21, 2, 0), bp=(125, 75)))
    with engine.begin() as conn:
        conn.execute(
            readings.update().where(readings.c.id == "seed-202").values(received_at=mark - 200)
        )
    after = cache.cascade(engine, WILAYAH, november, _place(), whole_city=True)
    assert after.counts.screened == before.counts.screened + 1
    assert cache.misses == 2
