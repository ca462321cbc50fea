"""/cascade through HTTP with its cache (central/cascade_cache.py), on SQLite and PostgreSQL:
Dinkes, a Puskesmas and a coordinator asking for the same period and level each see their own
scope's figures, a view again is answered from memory, and a reading a kit syncs days later
into a closed month shows on the next view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from httpx import Client

from central.cascade_cache import cache_for
from central.web.accounts import AccountStore
from central.web.app import create_app
from central.web.settings import WebSettings
from tests.central_web.helpers import EpochClock, add_staff, migrated, serve
from tests.central_web.test_app import sign_in
from tests.central_web.test_page_cascade import number

from .cascade_seed import WILAYAH, Seed, _utc, seed
from .test_cascade_cache import _store

NOVEMBER = "period=month&date=2026-11-10"
DECEMBER = "period=month&date=2026-12-02"


@pytest.fixture
def seeded(central_db_url: str) -> Iterator[sa.Engine]:
    with migrated(central_db_url) as engine:
        seed(central_db_url)
        yield engine


@pytest.fixture
def client(seeded: sa.Engine) -> Iterator[Client]:
    clock = EpochClock()
    add_staff(AccountStore(seeded, clock, max_failures=5, window_s=900, lockout_s=900))
    app = create_app(seeded, WebSettings(wilayah=WILAYAH), clock)
    with serve(app) as served, Client(base_url=served.url) as client:
        yield client


def _screened(client: Client, user: str, query: str) -> str:
    client.cookies.clear()
    sign_in(client, user)
    answer = client.get(f"/cascade?{query}")
    assert answer.status_code == 200
    return number(answer.text, "screened")


def test_each_scope_sees_its_own_figures_from_the_cache(client: Client, seeded: sa.Engine) -> None:
    # The same period and level (the city) for three scopes, twice each, in turn.
    for _ in range(2):
        assert _screened(client, "dina", DECEMBER) == "7"
        assert _screened(client, "budi", DECEMBER) == "5"
        assert _screened(client, "citra", DECEMBER) == "1"
    cache = cache_for(seeded)
    assert cache.misses == 3 and cache.hits == 3


def test_a_late_reading_into_a_closed_month_shows_on_the_next_view(
    client: Client, central_db_url: str
) -> None:
    before = int(_screened(client, "dina", NOVEMBER))
    assert _screened(client, "dina", NOVEMBER) == str(before)
    _store(central_db_url, 300, Seed("P30", "gw-manggar", _utc(2026, 11, 20, 2, 0), bp=(130, 80)))
    assert _screened(client, "dina", NOVEMBER) == str(before + 1)
    assert _screened(client, "citra", NOVEMBER) == "1"  # Manggar's only resident in November
