"""Revision 0007 (duplicates received, the receive-time index): up from 0006 with readings
kept, back down, and up again, on both backends."""

from __future__ import annotations

import sqlalchemy as sa

from central.quality import ALL_TIME, QualityQueries
from central.store import CentralStore, upgrade_schema
from tests.central.helpers import incoming
from tests.central.test_migration_0002 import downgrade, revision, tables
from tests.central.test_migration_0006 import QUALITY_TABLES
from tests.central.test_migrations import head, schema_diff


def indexes(engine: sa.Engine) -> set[str | None]:
    return {i["name"] for i in sa.inspect(engine).get_indexes("readings")}


def test_upgrade_from_0006_keeps_readings_and_counts_duplicates(central_db_url: str) -> None:
    engine = sa.create_engine(central_db_url)
    try:
        upgrade_schema(engine, "0006")
        assert not QUALITY_TABLES & tables(engine)
        assert "ix_readings_received_at" not in indexes(engine)
    finally:
        engine.dispose()
    old = CentralStore.__new__(CentralStore)  # a 0006 store, not migrated on open
    old.engine = sa.create_engine(central_db_url)
    try:
        old.store([incoming(1)])
    finally:
        old.close()
    store = CentralStore(central_db_url)
    try:
        assert revision(store.engine) == head()
        assert tables(store.engine) >= QUALITY_TABLES
        assert "ix_readings_received_at" in indexes(store.engine)
        assert schema_diff(store.engine) == []
        assert store.store([incoming(1)]) == []  # stored before the upgrade: a duplicate
        (row,) = QualityQueries(store.engine).by_gateway(ALL_TIME, None)
        assert (row.gateway_id, row.readings, row.duplicates) == ("gw-001", 1, 1)
    finally:
        store.close()


def test_downgrade_to_0006_drops_only_what_0007_added(central_db_url: str) -> None:
    store = CentralStore(central_db_url)
    try:
        store.store([incoming(1)])
        store.store([incoming(1)])
        before = tables(store.engine)
        downgrade(store.engine, "0006")
        assert revision(store.engine) == "0006"
        # 0008 (the cascade's facts) stacks on 0007 and goes down first.
        assert tables(store.engine) == before - QUALITY_TABLES - {"cascade_facts", "cascade_scan"}
        assert "ix_readings_received_at" not in indexes(store.engine)
        assert store.ids() == {incoming(1).id}
        upgrade_schema(store.engine)  # and up again, the count starting afresh
        (row,) = QualityQueries(store.engine).by_gateway(ALL_TIME, None)
        assert (row.readings, row.duplicates) == (1, 0)
    finally:
        store.close()
