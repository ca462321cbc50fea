"""Revision 0009 (the cascade cache's index): up from 0008 with facts kept, back down to 0008
dropping only the index (the cascade and its cache still answer), and up again."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from central.cascade import Period, resolve_place, window
from central.cascade_cache import CascadeCache
from central.store import CentralStore, upgrade_schema
from tests.central.test_migration_0002 import downgrade, revision
from tests.central.test_migrations import head

from .cascade_seed import WILAYAH, seed

INDEX = "ix_cascade_facts_received_measured"


def _indexes(engine: sa.Engine) -> set[str]:
    return {str(i["name"]) for i in sa.inspect(engine).get_indexes("cascade_facts")}


def _screened(engine: sa.Engine) -> int:
    city = resolve_place(WILAYAH, None)
    assert city is not None
    month = window(Period.MONTH, date(2026, 12, 2))
    return CascadeCache().cascade(engine, WILAYAH, month, city, whole_city=True).counts.screened


def test_upgrade_from_0008_adds_only_the_index(central_db_url: str) -> None:
    engine = sa.create_engine(central_db_url)
    try:
        upgrade_schema(engine, "0008")
        assert INDEX not in _indexes(engine)
    finally:
        engine.dispose()
    seed(central_db_url)  # opens the store: migrated to head
    store = CentralStore(central_db_url)
    try:
        assert revision(store.engine) == head() == "0009"
        assert INDEX in _indexes(store.engine)
        assert _screened(store.engine) == 7
    finally:
        store.close()


def test_downgrade_to_0008_drops_the_index_and_up_again(central_db_url: str) -> None:
    seed(central_db_url)
    store = CentralStore(central_db_url)
    try:
        before = _indexes(store.engine)
        downgrade(store.engine, "0008")
        assert revision(store.engine) == "0008"
        assert _indexes(store.engine) == before - {INDEX}
        assert _screened(store.engine) == 7  # slower without the index, not wrong
        upgrade_schema(store.engine)
        assert INDEX in _indexes(store.engine)
        assert _screened(store.engine) == 7
    finally:
        store.close()
