"""A migrated SQLite database and a fake clock per test (PostgreSQL where a test asks)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from central.web.accounts import AccountStore

from .helpers import EpochClock, migrated


@pytest.fixture
def clock() -> EpochClock:
    return EpochClock()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    with migrated(f"sqlite:///{tmp_path / 'central.db'}") as engine:
        yield engine


@pytest.fixture
def accounts(engine: sa.Engine, clock: EpochClock) -> AccountStore:
    return AccountStore(engine, clock, max_failures=5, window_s=900, lockout_s=900)
