"""A migrated SQLite database and a fake clock per test (PostgreSQL where a test asks), and
Chromium for the browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, sync_playwright

from central.web.accounts import AccountStore

from .helpers import EpochClock, migrated
from .test_browser import ARGS, CHROMIUM


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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium through Playwright, one per test module (a module's tests share it)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()
