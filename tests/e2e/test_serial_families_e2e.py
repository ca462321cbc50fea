"""Every serial protocol family, through its pty simulator, the real gateway, mosquitto and
central: the whole memory arrives, of the right kind, once — even after several sessions."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.serial import registry
from simulators.serial.registry import load_simulator, simulator_names
from tests.e2e.conftest import NOW, central_payloads, running_gateway
from tests.e2e.test_serial_e2e import plug_in, serial_config
from tests.support.clock import FakeClock
from tests.support.harness import running_central, wait_for
from tests.support.mosquitto import Mosquitto

RECORDS = 6


def test_every_registered_protocol_has_a_simulator() -> None:
    assert {registry.get(name).name for name in simulator_names()} == set(registry.names())


@pytest.mark.parametrize("protocol", simulator_names())
async def test_family_memory_reaches_central_exactly_once(
    tmp_path: Path, mosquitto: Mosquitto, protocol: str
) -> None:
    clock = FakeClock(NOW)
    meter = load_simulator(protocol)(records=RECORDS, clock=clock, drift_s=130.0)
    by_id = tmp_path / f"usb-{protocol}-if00-port0"
    config = serial_config(tmp_path, mosquitto.url, protocol, by_id, batch=4)
    kind = registry.get(protocol).kind
    await meter.start()
    plug_in(meter, by_id)
    try:
        async with (
            running_central(mosquitto.url, tmp_path / "central.db") as central,
            running_gateway(config, clock) as (gateway, task),
        ):
            status = gateway.devices["meter-1"]

            async def settled() -> bool:
                if task.done():
                    task.result()
                counts = await gateway.outbox.counts()
                return counts.confirmed > 0 and counts.unconfirmed == 0

            await wait_for(settled, 20, f"{protocol}: memory confirmed")
            # Let the supervisor read the same memory twice more: nothing new may appear.
            sessions = status.readings_total
            await wait_for(lambda: status.failures == 0 and status.state == "idle", 10, "idle")
            confirmed = (await gateway.outbox.counts()).confirmed
            await wait_for(
                lambda: central.stats.stored == confirmed, 10, f"{protocol}: central caught up"
            )
            payloads = central_payloads(central)
            assert len(payloads) == confirmed
            assert confirmed >= RECORDS - 2  # control-solution / empty slots may be skipped
            assert {p["kind"] for p in payloads} == {kind}
            assert {p["device"]["transport"] for p in payloads} == {"serial"}
            assert central.stats.duplicates == 0
            assert status.readings_total == sessions
    finally:
        await meter.stop()
