"""Accounts, a clock and a migrated database for the web app's tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from central.store import upgrade_schema
from central.web.accounts import AccountStore
from central.web.auth import Role
from tests.support.clock import FakeClock

PASSWORD = "kata-sandi-benar-1"
WILAYAH_A = ("6471011001", "6471011002")
WILAYAH_B = ("6471021001",)


class EpochClock:
    """The web app's clock (epoch seconds) over the tests' one fake wall clock."""

    def __init__(self) -> None:
        self.fake = FakeClock()

    def __call__(self) -> float:
        return self.fake().timestamp()

    def advance(self, seconds: float) -> None:
        self.fake.advance(seconds)


@contextmanager
def migrated(url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(url)
    try:
        upgrade_schema(engine)
        yield engine
    finally:
        engine.dispose()


def add_staff(accounts: AccountStore) -> None:
    """One account per role: dinkes `dina`, puskesmas `budi` (wilayah A), coordinator `citra`
    (wilayah B)."""
    accounts.add("dina", PASSWORD, Role.DINKES)
    accounts.add("budi", PASSWORD, Role.PUSKESMAS, puskesmas_id="pkm-a", wilayah=WILAYAH_A)
    accounts.add("citra", PASSWORD, Role.COORDINATOR, wilayah=WILAYAH_B)
