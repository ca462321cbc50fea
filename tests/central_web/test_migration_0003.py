"""Revision 0003 (the web app's tables): up from 0002 with readings kept, and back down."""

from __future__ import annotations

import time

import sqlalchemy as sa

from central.delivery_store import DeliveryStore
from central.store import CentralStore, upgrade_schema
from central.web.accounts import AccountStore
from central.web.audit import Action, Auditor
from central.web.auth import Role
from tests.central.helpers import incoming
from tests.central.test_migration_0002 import downgrade, revision, tables
from tests.central.test_migrations import head

from .helpers import PASSWORD

WEB_TABLES = {"web_users", "web_user_wilayah", "web_sessions", "web_login_failures", "audit_log"}


def test_upgrade_from_0002_keeps_readings_and_deliveries(central_db_url: str) -> None:
    engine = sa.create_engine(central_db_url)
    try:
        upgrade_schema(engine, "0002")
        assert not WEB_TABLES & tables(engine)
    finally:
        engine.dispose()
    old = CentralStore.__new__(CentralStore)  # a 0002 store, not migrated on open
    old.engine = sa.create_engine(central_db_url)
    try:
        old.store([incoming(1)])
        DeliveryStore(old.engine).mark_skipped([incoming(1).id], time.time())
    finally:
        old.close()
    store = CentralStore(central_db_url)
    try:
        assert revision(store.engine) == head()
        assert tables(store.engine) >= WEB_TABLES
        assert store.ids() == {incoming(1).id}
        accounts = AccountStore(store.engine, time.time)
        accounts.add("budi", PASSWORD, Role.PUSKESMAS, puskesmas_id="p", wilayah=["6471011001"])
        assert accounts.login("budi", PASSWORD).principal is not None
        Auditor(store.engine, time.time).audit("budi", Action.LOGIN, "", "127.0.0.1")
    finally:
        store.close()


def test_downgrade_to_0002_drops_only_the_web_tables(central_db_url: str) -> None:
    store = CentralStore(central_db_url)
    try:
        store.store([incoming(1)])
        accounts = AccountStore(store.engine, time.time)
        accounts.add("citra", PASSWORD, Role.COORDINATOR, wilayah=["6471011001"])
        Auditor(store.engine, time.time).audit("citra", Action.LOGIN, "", "127.0.0.1")
        downgrade(store.engine, "0002")
        assert revision(store.engine) == "0002"
        assert tables(store.engine) == {
            "alembic_version",
            "readings",
            "dead_letters",
            "fhir_delivery",
        }
        assert store.ids() == {incoming(1).id}
        upgrade_schema(store.engine)  # and up again, empty
        assert AccountStore(store.engine, time.time).list() == []
    finally:
        store.close()
