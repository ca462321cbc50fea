from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from simulators.ble.backend import Air
from tests.support.sink import MemorySink


@pytest.fixture
async def air() -> AsyncIterator[Air]:
    the_air = Air(advertise_interval_s=0.005)
    yield the_air
    await the_air.aclose()


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()
