"""Revision 0002 (the FHIR delivery table): up from 0001 with readings kept, and back down."""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from central.delivery_store import DeliveryState, DeliveryStore
from central.store import CentralStore, upgrade_schema
from tests.central.helpers import incoming
from tests.central.test_migrations import head


def revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def downgrade(engine: sa.Engine, to: str) -> None:
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", "central:migrations")
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, to)


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_from_0001_keeps_the_readings_and_queues_them(central_db_url: str) -> None:
    engine = sa.create_engine(central_db_url)
    try:
        upgrade_schema(engine, "0001")
        assert revision(engine) == "0001"
        assert "fhir_delivery" not in tables(engine)
    finally:
        engine.dispose()
    old = CentralStore.__new__(CentralStore)  # a 0001 store, not migrated on open
    old.engine = sa.create_engine(central_db_url)
    try:
        old.store([incoming(1), incoming(2)])
    finally:
        old.close()
    store = CentralStore(central_db_url)  # opening migrates to head
    try:
        assert revision(store.engine) == head()
        assert "fhir_delivery" in tables(store.engine)
        delivery = DeliveryStore(store.engine)
        # Readings stored before the table existed are due like new ones.
        assert {r.id for r in delivery.due(time.time(), 10)} == {incoming(1).id, incoming(2).id}
        delivery.mark_accepted([(incoming(1).id, "Observation/a")], time.time())
        row = delivery.state(incoming(1).id)
        assert row is not None
        assert row.state is DeliveryState.ACCEPTED
    finally:
        store.close()


def test_downgrade_to_0001_drops_only_the_delivery_table(central_db_url: str) -> None:
    store = CentralStore(central_db_url)
    try:
        store.store([incoming(1)])
        DeliveryStore(store.engine).mark_skipped([incoming(1).id], time.time())
        downgrade(store.engine, "0001")
        assert revision(store.engine) == "0001"
        assert tables(store.engine) == {"alembic_version", "readings", "dead_letters"}
        assert store.ids() == {incoming(1).id}
        upgrade_schema(store.engine)  # and up again: the readings are due once more
        assert [r.id for r in DeliveryStore(store.engine).due(time.time(), 10)] == [
            incoming(1).id
        ]
    finally:
        store.close()
