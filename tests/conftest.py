"""Shared fixtures: a real mosquitto per test, temp state directories, a central consumer.

Every test also runs under two checks (tests/support/): no malformed %-format log call, and,
for async tests, no blocking call from our code on the event-loop thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto

# tests.support.postgres: `postgres` (one server per run), `postgres_db`, `central_db_url`.
pytest_plugins = [
    "pytester",
    "tests.support.logcheck",
    "tests.support.blocking",
    "tests.support.postgres",
]


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    workdir = tmp_path / "broker"
    workdir.mkdir()
    broker = Mosquitto(workdir)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
