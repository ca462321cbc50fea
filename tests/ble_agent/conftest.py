from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.ble_agent.fake_bluez import FakeBluez, private_bus


@pytest.fixture
def bus_address(tmp_path: Path) -> Iterator[str]:
    with private_bus(tmp_path) as address:
        yield address


@pytest.fixture
async def bluez(bus_address: str) -> AsyncIterator[FakeBluez]:
    fake = await FakeBluez(bus_address).start()
    yield fake
    await fake.stop()
