from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.devices import DeviceConfig, DeviceContext, DeviceStatus
from core.events import EventBus
from tests.serial_lifescan.memory_sink import MemorySink


class FakeClock:
    """Aware UTC clock the test moves by hand; shared by gateway and simulated meter."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    # 10:00 WITA on a Friday.
    return FakeClock(datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC))


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
