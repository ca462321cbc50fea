"""Central's schema is Alembic's: applied on open, from empty, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

# Imported for their tables, which are on the store's metadata; one noqa serves them all, as
# they bind one name.
import central.cascade
import central.cascade_cache
import central.delivery_store
import central.fleet_store
import central.quality
import central.referrals
import central.web.tables  # noqa: F401
from central.store import CentralStore, dead_letters, metadata, readings, upgrade_schema
from tests.central.helpers import incoming


def head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", "central:migrations")
    revision = ScriptDirectory.from_config(cfg).get_current_head()
    assert revision is not None
    return revision


def schema_diff(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_upgrade_from_empty_matches_the_models(central_db_url: str) -> None:
    engine = sa.create_engine(central_db_url)
    try:
        upgrade_schema(engine)
        assert current_revision(engine) == head()
        assert set(sa.inspect(engine).get_table_names()) == {
            "alembic_version",
            "readings",
            "dead_letters",
            "fhir_delivery",
            "fleet_gateways",
            "fleet_events",
            "web_users",
            "web_user_wilayah",
            "web_sessions",
            "web_login_failures",
            "audit_log",
            "referrals",
            "referral_readings",
            "referral_events",
            "referral_scan",
            "duplicates_received",
            "quality_daily",
            "quality_rollup",
            "cascade_facts",
            "cascade_scan",
        }
        # The models and the migrations describe the same schema: nothing to autogenerate.
        assert schema_diff(engine) == []
        upgrade_schema(engine)  # at head: nothing to do, no error
        assert current_revision(engine) == head()
    finally:
        engine.dispose()


def test_opening_the_store_migrates_it(central_db_url: str) -> None:
    store = CentralStore(central_db_url)
    try:
        assert current_revision(store.engine) == head()
        assert schema_diff(store.engine) == []
    finally:
        store.close()


def test_a_database_from_before_migrations_is_adopted_with_its_readings(
    central_db_url: str,
) -> None:
    # Central used to make its tables with create_all: such a database is stamped at the
    # first revision, not created again (which would fail) nor left unversioned.
    engine = sa.create_engine(central_db_url)
    try:
        metadata.create_all(engine, tables=[readings, dead_letters])
    finally:
        engine.dispose()
    old = CentralStore.__new__(CentralStore)
    old.engine = sa.create_engine(central_db_url)
    try:
        assert old.store([incoming(1)]) == [incoming(1).id]
    finally:
        old.close()
    store = CentralStore(central_db_url)
    try:
        assert current_revision(store.engine) == head()
        assert store.ids() == {incoming(1).id}
        assert store.store([incoming(1), incoming(2)]) == [incoming(2).id]
    finally:
        store.close()


OPEN_STORE = """
import sys
from central.store import CentralStore
CentralStore(sys.argv[1]).close()
"""


def test_instances_starting_together_migrate_once(central_db_url: str) -> None:
    # Several central processes start at once against one empty database (the systemd units
    # of a city's deployment): one migrates, the others wait for it and find it done.
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_STORE, central_db_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outcomes = []
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        outcomes.append((proc.returncode, err.decode()[-1500:]))
    assert all(code == 0 for code, _ in outcomes), outcomes
    store = CentralStore(central_db_url)
    try:
        assert current_revision(store.engine) == head()
        assert schema_diff(store.engine) == []
        assert store.store([incoming(1)]) == [incoming(1).id]
    finally:
        store.close()


def test_stores_opened_in_threads_at_once_all_work(central_db_url: str) -> None:
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: CentralStore(central_db_url), range(4)))
    try:
        assert current_revision(stores[0].engine) == head()
        assert stores[0].store([incoming(1)]) == [incoming(1).id]
        assert stores[3].store([incoming(1)]) == []
    finally:
        for store in stores:
            store.close()
