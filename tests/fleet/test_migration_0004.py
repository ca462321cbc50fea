"""Revision 0004 (the fleet tables): up from 0002 with readings kept, back down, up again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from central.fleet_store import FleetStore, parse_status
from central.fleet_views import fleet_list
from central.store import CentralStore, upgrade_schema
from tests.central.helpers import incoming
from tests.fleet.helpers import status, topic

FLEET_TABLES = {"fleet_gateways", "fleet_events"}


def revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def downgrade(engine: sa.Engine, to: str) -> None:
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", "central:migrations")
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, to)


def head() -> str | None:
    """The newest revision: later revisions stack on 0004, and opening a store goes to head."""
    cfg = Config()
    cfg.set_main_option("script_location", "central:migrations")
    return ScriptDirectory.from_config(cfg).get_current_head()


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_from_0002_adds_the_fleet_tables_and_keeps_readings(central_db_url: str) -> None:
    engine = sa.create_engine(central_db_url)
    try:
        upgrade_schema(engine, "0002")
        assert not FLEET_TABLES & tables(engine)
    finally:
        engine.dispose()
    old = CentralStore.__new__(CentralStore)  # a 0002 store, not migrated on open
    old.engine = sa.create_engine(central_db_url)
    try:
        old.store([incoming(1)])
    finally:
        old.close()
    store = CentralStore(central_db_url)
    try:
        assert revision(store.engine) == head()
        assert tables(store.engine) >= FLEET_TABLES
        assert store.ids() == {incoming(1).id}
        FleetStore(store.engine).apply(parse_status(topic("gw-1"), status("gw-1", 1.0)), 2.0)
        assert [r.gateway_id for r in fleet_list(store.engine, 2.0)] == ["gw-1"]
    finally:
        store.close()


def test_downgrade_to_0002_drops_only_the_fleet_tables(central_db_url: str) -> None:
    store = CentralStore(central_db_url)
    try:
        store.store([incoming(1)])
        FleetStore(store.engine).apply(parse_status(topic("gw-1"), status("gw-1", 1.0)), 2.0)
        downgrade(store.engine, "0002")
        assert revision(store.engine) == "0002"
        assert tables(store.engine) == {
            "alembic_version",
            "readings",
            "dead_letters",
            "fhir_delivery",
        }
        assert store.ids() == {incoming(1).id}
        upgrade_schema(store.engine)
        assert fleet_list(store.engine, 2.0) == []  # back, and empty: statuses refill it
    finally:
        store.close()
