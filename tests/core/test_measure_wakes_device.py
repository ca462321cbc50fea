"""A kiosk's "measure" request reaches a device even while its supervisor is backing off.

Issue 10 item 10: a device that failed once sleeps out its retry delay (capped at 120 s) before
it tries again, longer than the kiosk's 60 s measurement timeout. A resident who starts a
measurement then waits for nothing. The request must wake the device's supervisor.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

from core.events import ReadingStored
from core.reading import BloodPressure, Kind
from drivers.ble.link import ConnectPolicy
from gateway.config import parse_config
from gateway.service import Gateway
from simulators.ble.cli import demo_air, demo_device_configs
from simulators.ble.devices import BpMonitor, BpRecord
from tests.support.mosquitto import Mosquitto

KIOSK_TIMEOUT_S = 60.0  # the demo's measurement_timeout_s
ARRIVAL_DEADLINE_S = 15.0  # well under the kiosk's timeout, well over one BP session


async def _wait_until(condition: object, timeout: float) -> None:
    assert callable(condition)
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def test_measure_request_wakes_a_device_that_is_backing_off(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    air = demo_air(devices=("bp",), bp_records=1)
    monitor = next(p for p in air.peripherals if isinstance(p, BpMonitor))
    monitor.advertising = False  # out of range / switched off: the first session fails
    devices = [
        dataclasses.replace(
            d,
            options={
                **d.options,
                "connect_policy": ConnectPolicy(scan_timeout_s=0.3, attempts=1, backoff_s=0.1),
                # The supervisor's own cap, reached after a few failures in the field: one
                # failure is enough here to sleep 60-120 s.
                "retry_initial_s": 120.0,
                "retry_max_s": 120.0,
            },
        )
        for d in demo_device_configs(air)
    ]
    config = parse_config(
        {
            "gateway": {"id": "gw-wake", "state_dir": str(tmp_path / "gw")},
            "mqtt": {"url": mosquitto.url},
        },
        source="test",
    )
    config = dataclasses.replace(config, devices=tuple(devices))

    def resident_measures(kind: str) -> None:
        # What the demo's hook does: a fresh result appears in the meter's memory, and the
        # meter (as real ones do after measuring) advertises again.
        assert kind == Kind.BLOOD_PRESSURE.value
        monitor.records.append(
            BpRecord(151.0, 96.0, 73.0, monitor.clock.local_now().replace(microsecond=0))
        )
        monitor.advertising = True

    gateway = Gateway(config, measurement_hook=resident_measures)
    status = gateway.devices[devices[0].name]
    task = asyncio.create_task(gateway.run(), name="gateway")
    try:
        async with gateway.events.subscribe() as events:
            await _wait_until(lambda: status.failures >= 1, 10.0)
            await asyncio.sleep(0.2)  # now sleeping out its retry delay
            assert status.failures == 1
            asked = time.monotonic()
            gateway.request_measurement(Kind.BLOOD_PRESSURE.value)  # what the kiosk calls
            arrived: float | None = None
            try:
                async with asyncio.timeout(ARRIVAL_DEADLINE_S):
                    while arrived is None:
                        event = await events.get()
                        if (
                            isinstance(event, ReadingStored)
                            and isinstance(event.reading.values, BloodPressure)
                            and event.reading.values.systolic_mmhg == 151.0
                        ):
                            arrived = time.monotonic() - asked
            except TimeoutError:
                pass
            assert arrived is not None, (
                f"no reading within {ARRIVAL_DEADLINE_S:g} s of the measure request (kiosk "
                f"gives up after {KIOSK_TIMEOUT_S:g} s); device state {status.state}, "
                f"failures {status.failures}"
            )
            assert arrived < ARRIVAL_DEADLINE_S
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await air.aclose()
