from __future__ import annotations

import pytest

from core.devices import DeviceConfig, DeviceContext, DeviceStatus
from core.events import EventBus
from tests.support.clock import FakeClock
from tests.support.sink import MemorySink


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # 10:00 WITA on a Friday


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


def make_ctx(config: DeviceConfig, sink: MemorySink, clock: FakeClock) -> DeviceContext:
    return DeviceContext(
        config=config,
        sink=sink,
        status=DeviceStatus(name=config.name, transport=config.transport),
        events=EventBus(),
        gateway_id="gw-bpn-01",
        site_id="posyandu-melati",
        clock=clock,
    )
