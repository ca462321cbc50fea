"""Issue 10 item 20: `gateway.timezone` is the meters' wall clock unless a device overrides it
with `options.site_tz`. Through the whole chain: a gateway.toml loaded by `load_config`, the
supervisor's serial runners, two simulated OneTouch Ultra 2 meters on ptys (one on the
gateway's zone, one overridden), real mosquitto and central.

A meter whose clock is read in the wrong zone looks an hour fast or slow: the session then
"corrects" a clock offset that is not there, so the stored offset (and, for records whose time
cannot be corrected, the time) would be wrong. The assertions check both.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from drivers.serial import onetouch_ultra2 as ultra2
from gateway.config import load_config
from simulators.serial.meter_clock import DriftingClock
from simulators.serial.onetouch_ultra2 import Ultra2Meter
from tests.e2e.conftest import (
    NOW,
    by_device_time,
    central_payloads,
    outbox_settled,
    rfc3339,
    running_gateway,
)
from tests.support.clock import FakeClock
from tests.support.harness import running_central, wait_for
from tests.support.mosquitto import Mosquitto

JAKARTA = ZoneInfo("Asia/Jakarta")  # WIB, UTC+7: not the default WITA
JAYAPURA = ZoneInfo("Asia/Jayapura")  # WIT, UTC+9


def meter(serial: str, clock: FakeClock, zone: ZoneInfo) -> tuple[Ultra2Meter, datetime]:
    drifting = DriftingClock(clock, zone=zone, drift_s=0.0)
    taken = drifting.local_now() - timedelta(minutes=10)
    record = ultra2.Record(taken, ultra2.WEEKDAYS[taken.weekday()], 140, meal=None, comment=0)
    return Ultra2Meter(
        records=[record], serial=serial, version="P02.00.00 30/08/06", clock=drifting
    ), taken


async def test_device_without_override_reads_its_clock_in_gateway_timezone(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    clock = FakeClock(NOW)
    plain, plain_taken = meter("ZW000000A", clock, JAKARTA)
    overridden, overridden_taken = meter("ZW000000B", clock, JAYAPURA)
    plain_port, overridden_port = tmp_path / "meter-a", tmp_path / "meter-b"
    config_path = tmp_path / "gateway.toml"
    config_path.write_text(
        f"""
[gateway]
id = "gw-001"
state_dir = "{tmp_path / 'gw'}"
timezone = "Asia/Jakarta"

[mqtt]
url = "{mosquitto.url}"
backoff_initial_s = 0.05
backoff_max_s = 0.5

[[devices]]
name = "meter-a"
transport = "serial"
protocol = "onetouch-ultra2"
port = "{plain_port}"
[devices.options]
retry_initial_s = 0.05
retry_max_s = 0.2
poll_s = 0.2
timeout_s = 0.5

[[devices]]
name = "meter-b"
transport = "serial"
protocol = "onetouch-ultra2"
port = "{overridden_port}"
[devices.options]
site_tz = "Asia/Jayapura"
retry_initial_s = 0.05
retry_max_s = 0.2
poll_s = 0.2
timeout_s = 0.5
"""
    )
    config = load_config(config_path)
    await plain.start()
    await overridden.start()
    os.symlink(plain.path, plain_port)
    os.symlink(overridden.path, overridden_port)
    try:
        async with (
            running_central(mosquitto.url, tmp_path / "central.db") as central,
            running_gateway(config, clock) as (gateway, task),
        ):
            await wait_for(lambda: outbox_settled(gateway, task, 2), 20, "both readings")
            got = by_device_time(central_payloads(central))
    finally:
        await plain.stop()
        await overridden.stop()
    a = got[("lifescan:ZW000000A", plain_taken.isoformat())]
    b = got[("lifescan:ZW000000B", overridden_taken.isoformat())]
    assert a["clock_offset_s"] == 0.0
    assert a["measured_at"] == rfc3339(plain_taken.replace(tzinfo=JAKARTA).astimezone(UTC))
    assert b["clock_offset_s"] == 0.0
    assert b["measured_at"] == rfc3339(overridden_taken.replace(tzinfo=JAYAPURA).astimezone(UTC))
