"""Revision 0006 (the referral worklist): up from 0004 with readings kept, and back down."""

from __future__ import annotations

import sqlalchemy as sa

from central.referrals import ReferralBook
from central.store import CentralStore, upgrade_schema
from central.wilayah import Wilayah
from tests.central.test_migration_0002 import downgrade, revision, tables
from tests.central.test_migrations import head
from tests.central_web.helpers import EpochClock

from .referral_helpers import screening, store_all

QUALITY_TABLES = {"duplicates_received", "quality_daily", "quality_rollup"}
REFERRAL_TABLES = {"referrals", "referral_readings", "referral_events", "referral_scan"}


def test_upgrade_from_0004_files_the_readings_already_stored(central_db_url: str) -> None:
    engine = sa.create_engine(central_db_url)
    try:
        upgrade_schema(engine, "0004")
        assert not REFERRAL_TABLES & tables(engine)
    finally:
        engine.dispose()
    old = CentralStore.__new__(CentralStore)  # a 0004 store, not migrated on open
    old.engine = sa.create_engine(central_db_url)
    try:
        old.store([screening(1, "ani", bp=(190, 90))])
    finally:
        old.close()
    store = CentralStore(central_db_url)
    try:
        assert revision(store.engine) == head()
        assert tables(store.engine) >= REFERRAL_TABLES
        assert ReferralBook(store.engine, EpochClock(), Wilayah()).refresh() == 1
    finally:
        store.close()


def test_downgrade_to_0004_drops_only_the_referral_tables(central_db_url: str) -> None:
    store_all(central_db_url, [screening(1, "ani", bp=(190, 90))])
    store = CentralStore(central_db_url)
    try:
        before = tables(store.engine)
        assert ReferralBook(store.engine, EpochClock(), Wilayah()).refresh() == 1
        downgrade(store.engine, "0004")
        assert revision(store.engine) == "0004"
        # Later revisions' tables (0007's and 0008's) go down with it.
        assert tables(store.engine) == (
            before - REFERRAL_TABLES - QUALITY_TABLES - {"cascade_facts", "cascade_scan"}
        )
        assert store.count() == 1
        upgrade_schema(store.engine)  # and up again: the reading is filed afresh
        assert ReferralBook(store.engine, EpochClock(), Wilayah()).refresh() == 1
    finally:
        store.close()
