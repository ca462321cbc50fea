"""Revision 0008 (the cascade's facts): up from 0006 with readings kept and counted, back down
to 0007 dropping only what it added (0007's index on received_at stays), and up again."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from central.cascade import CascadeQueries, Period, resolve_place, window
from central.store import CentralStore, upgrade_schema
from tests.central.test_migration_0002 import downgrade, revision, tables
from tests.central.test_migrations import head

from .cascade_seed import SEEDS, WILAYAH, seed

CASCADE_TABLES = {"cascade_facts", "cascade_scan"}


def _indexes(engine: sa.Engine) -> set[str]:
    return {str(i["name"]) for i in sa.inspect(engine).get_indexes("readings")}


def _screened(engine: sa.Engine) -> int:
    city = resolve_place(WILAYAH, None)
    assert city is not None
    month = window(Period.MONTH, date(2026, 12, 2))
    return CascadeQueries(engine, WILAYAH).cascade(month, city, whole_city=True).counts.screened


def test_upgrade_from_0006_counts_the_readings_already_stored(central_db_url: str) -> None:
    engine = sa.create_engine(central_db_url)
    try:
        upgrade_schema(engine, "0006")
        assert not CASCADE_TABLES & tables(engine)
        assert "ix_readings_received_at" not in _indexes(engine)
    finally:
        engine.dispose()
    seed(central_db_url)  # opens the store: migrated to head with the readings in it
    store = CentralStore(central_db_url)
    try:
        assert revision(store.engine) == head()
        assert tables(store.engine) >= CASCADE_TABLES
        assert "ix_readings_received_at" in _indexes(store.engine)
        assert _screened(store.engine) == 7
    finally:
        store.close()


def test_downgrade_to_0007_drops_only_the_cascade_facts(central_db_url: str) -> None:
    seed(central_db_url)
    store = CentralStore(central_db_url)
    try:
        before = tables(store.engine)
        assert _screened(store.engine) == 7
        downgrade(store.engine, "0007")
        assert revision(store.engine) == "0007"
        assert tables(store.engine) == before - CASCADE_TABLES
        assert "ix_readings_received_at" in _indexes(store.engine)
        assert store.count() == len(SEEDS)
        upgrade_schema(store.engine)  # and up again: the facts are filed afresh
        assert _screened(store.engine) == 7
    finally:
        store.close()
