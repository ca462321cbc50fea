"""Issue 4 end to end: a simulated cable meter on a pty -> real gateway (config [[devices]]
transport="serial", supervisor, serial session, SQLite outbox, publisher) -> real mosquitto ->
real central, with the cable pulled in the middle of a memory transfer and plugged back in.

The gateway is configured with a stable symlink (like /dev/serial/by-id/...); a re-plugged
simulator gets a new /dev/pts path and the test re-points the symlink, as udev would.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from drivers.serial import contour
from drivers.serial import onetouch_ultra2 as ultra2
from gateway.config import Config, load_config
from gateway.service import Gateway
from simulators.serial.contour import ContourMeter, transfer_frames
from simulators.serial.meter_clock import DriftingClock
from simulators.serial.onetouch_ultra2 import Ultra2Meter
from simulators.serial.pty import PtyFaults, PtyMeter
from tests.e2e.conftest import (
    NOW,
    by_device_time,
    central_payloads,
    outbox_settled,
    rfc3339,
    running_gateway,
    wita_to_utc,
)
from tests.support.clock import FakeClock
from tests.support.harness import running_central, wait_for
from tests.support.mosquitto import Mosquitto

NOW_WITA = datetime(2026, 11, 27, 13, 0, 0)
MGDL = ultra2.UNIT_MGDL
DEVICE = "meter-1"


def plug_in(meter: PtyMeter, by_id: Path) -> None:
    """Point the stable name at the meter's current pty, atomically (as udev does)."""
    fresh = by_id.with_name(by_id.name + ".new")
    os.symlink(meter.path, fresh)
    os.replace(fresh, by_id)


def serial_config(
    tmp_path: Path, broker_url: str, protocol: str, by_id: Path, batch: int
) -> Config:
    """The gateway.toml an installer writes: one [[devices]] entry on the stable port name."""
    path = tmp_path / "gateway.toml"
    path.write_text(
        f"""
[gateway]
id = "gw-001"
site_id = "test-site"
state_dir = "{tmp_path / 'gw'}"

[mqtt]
url = "{broker_url}"
backoff_initial_s = 0.05
backoff_max_s = 0.5

[[devices]]
name = "{DEVICE}"
transport = "serial"
protocol = "{protocol}"
port = "{by_id}"

[devices.options]
retry_initial_s = 0.05  # replug noticed within a fraction of a second
retry_max_s = 0.2
poll_s = 0.2
timeout_s = 0.5
retries = 2
batch = {batch}
"""
    )
    return load_config(path)


def glucose_payload(
    device_id: str,
    local: datetime,
    offset_s: float,
    values: dict[str, Any],
) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "device_time": local.isoformat(),
        "measured_at": rfc3339(wita_to_utc(local) - timedelta(seconds=offset_s)),
        "time_quality": "device_clock",
        "clock_offset_s": offset_s,
        "values": values,
    }


def observed(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "device_id": payload["device"]["id"],
        "device_time": payload["device_time"],
        "measured_at": payload["measured_at"],
        "time_quality": payload["time_quality"],
        "clock_offset_s": payload["clock_offset_s"],
        "values": payload["values"],
    }


async def committed(gateway: Gateway) -> int:
    counts = await gateway.outbox.counts()
    return counts.pending + counts.published + counts.confirmed


async def pull_the_cable_mid_transfer_then_replug(
    gateway: Gateway, meter: PtyMeter, by_id: Path, committed_before_replug: int
) -> None:
    """Wait for the fault hook to cut the line, check what survived, plug back in."""
    status = gateway.devices[DEVICE]
    await wait_for(lambda: meter.stats.unplugged, 15, "the cable pulled mid-transfer")
    await wait_for(lambda: status.failures >= 1, 10, "the session to fail")
    assert status.last_error is not None
    # Unplugged: the supervisor keeps trying the dead path and says why.
    await wait_for(lambda: "missing" in (status.last_error or ""), 10, "port missing")
    assert await committed(gateway) == committed_before_replug
    meter.faults = PtyFaults()
    await meter.start()  # a fresh pty: the path usually changes, as a replugged USB port's does
    plug_in(meter, by_id)
    assert os.path.realpath(by_id) == meter.path


def ultra2_records(newest: datetime, count: int) -> list[ultra2.Record]:
    meals: tuple[str | None, ...] = (None, "preprandial", "postprandial")
    records = []
    for i in range(count):
        moment = newest - timedelta(hours=3 * i)
        records.append(
            ultra2.Record(
                time=moment,
                weekday=ultra2.WEEKDAYS[moment.weekday()],
                value_mgdl=650 if i == 3 else 85 + 11 * i,  # one HI among them
                meal=meals[i % 3],
                comment=0,
            )
        )
    return records  # newest first, as the meter lists them


def ultra2_values(record: ultra2.Record) -> dict[str, Any]:
    hi = record.value_mgdl > 600
    return {
        "glucose_mgdl": None if hi else float(record.value_mgdl),
        "original_unit": "mg/dL",
        "original_value": float(record.value_mgdl),
        "sample_type": "capillary_whole_blood",
        "sample_location": None,
        "meal": record.meal,
        "control_solution": False,
        "hi": hi,
        "lo": False,
        "sensor_status": [],
    }


async def test_onetouch_ultra2_cable_pulled_mid_dump_every_record_once(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    clock = FakeClock(NOW)
    drift_s = 240.0  # the meter is four minutes fast
    meter_clock = DriftingClock(clock, drift_s=drift_s)
    records = ultra2_records(NOW_WITA + timedelta(seconds=drift_s) - timedelta(minutes=7), 12)
    # Cut the line half-way through the 7th dump line: six records arrived, none is
    # committed, because a newest-first dump is committed oldest first once it has all
    # arrived (issue 10 item 18); the meter still holds them for the next session.
    before_dump = (
        len(ultra2.encode_version("P02.00.00 30/08/06"))
        + len(ultra2.encode_serial("ZW123456Y"))
        + len(ultra2.encode_clock(ultra2.Clock(meter_clock.local_now(), "FRI")))
        + len(ultra2.encode_dump_header(ultra2.DumpHeader(len(records), "ZW123456Y", MGDL)))
    )
    lines = [len(ultra2.encode_record(r)) for r in records]
    cut = before_dump + sum(lines[:6]) + lines[6] // 2
    meter = Ultra2Meter(
        records=records,
        serial="ZW123456Y",
        version="P02.00.00 30/08/06",
        clock=meter_clock,
        faults=PtyFaults(unplug_after_bytes=cut),
    )
    by_id = tmp_path / "usb-LifeScan_OneTouch_Ultra2-if00-port0"
    config = serial_config(tmp_path, mosquitto.url, "onetouch-ultra2", by_id, batch=4)
    device_id = "lifescan:ZW123456Y"
    expected = {
        (device_id, r.time.isoformat()): glucose_payload(
            device_id, r.time, drift_s, ultra2_values(r)
        )
        for r in records
    }
    await meter.start()
    plug_in(meter, by_id)
    try:
        async with (
            running_central(mosquitto.url, tmp_path / "central.db") as central,
            running_gateway(config, clock) as (gateway, task),
        ):
            await pull_the_cable_mid_transfer_then_replug(gateway, meter, by_id, 0)
            await wait_for(lambda: outbox_settled(gateway, task, len(records)), 20, "all 12")
            # Later sessions stop at the cursor; nothing arrives twice.
            commands_so_far = len(meter.commands)
            await wait_for(lambda: len(meter.commands) >= commands_so_far + 8, 10, "2 sessions")
            # A new test on the meter arrives exactly once too.
            clock.advance(60)
            new_time = NOW_WITA + timedelta(seconds=drift_s + 60)
            new = ultra2.Record(new_time, ultra2.WEEKDAYS[new_time.weekday()], 133,
                                meal="postprandial", comment=0)
            meter.add_record(new)
            await wait_for(lambda: outbox_settled(gateway, task, len(records) + 1), 20, "new")
            dumps = meter.commands.count(ultra2.Command(ultra2.CMD_DUMP))
            await wait_for(
                lambda: meter.commands.count(ultra2.Command(ultra2.CMD_DUMP)) >= dumps + 2,
                10,
                "two more sessions",
            )
            assert await outbox_settled(gateway, task, len(records) + 1)
            expected[(device_id, new_time.isoformat())] = glucose_payload(
                device_id, new_time, drift_s, ultra2_values(new)
            )
            got = by_device_time(central_payloads(central))
            assert set(got) == set(expected)
            for key, want in expected.items():
                assert observed(got[key]) == want, key
            assert central.store.count() == len(records) + 1
            assert central.stats.duplicates == 0
            assert gateway.devices[DEVICE].last_error is None
    finally:
        await meter.stop()


def contour_results(newest: datetime, count: int) -> list[contour.ResultRecord]:
    return [
        contour.ResultRecord(
            sequence=i + 1,
            test="Glucose",
            value=str(90 + 7 * i),
            unit=contour.MGDL,
            method="P",
            markers=("B",) if i % 2 else (),
            taken_at=newest - timedelta(hours=count - 1 - i),
        )
        for i in range(count)
    ]  # oldest first, as the meter sends them


def contour_values(result: contour.ResultRecord) -> dict[str, Any]:
    before_meal = "B" in result.markers
    return {
        "glucose_mgdl": float(result.value),
        "original_unit": "mg/dL",
        "original_value": float(result.value),
        "sample_type": "capillary_plasma",
        "sample_location": None,
        "meal": "preprandial" if before_meal else None,
        "control_solution": False,
        "hi": False,
        "lo": False,
        "sensor_status": ["marker:B"] if before_meal else [],
    }


def frame_bytes(records: Sequence[contour.Record]) -> list[int]:
    """Bytes on the wire for each record, framed as the meter frames them (one frame per record
    here; numbers and ETB/ETX do not change a frame's size)."""
    return [sum(len(f) for f in transfer_frames([contour.encode_record(r)])) for r in records]


async def test_contour_cable_pulled_mid_transfer_every_record_once(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    clock = FakeClock(NOW)
    drift_s = -180.0  # three minutes slow (the header clock shows whole minutes)
    results = contour_results(NOW_WITA + timedelta(seconds=drift_s) - timedelta(minutes=4), 10)
    meter = ContourMeter(results, serial="7150-1234567", clock=clock, drift_s=drift_s)
    head = frame_bytes([meter.header(), contour.PatientRecord(1)])
    body = frame_bytes(results)
    # The bid (ENQ), header, patient, five results and half of the sixth: then the cable goes.
    meter.faults = PtyFaults(unplug_after_bytes=1 + sum(head) + sum(body[:5]) + body[5] // 2)
    by_id = tmp_path / "usb-Bayer_Contour_USB-if00-port0"
    config = serial_config(tmp_path, mosquitto.url, "contour", by_id, batch=50)
    device_id = "ascensia:7150-1234567"
    expected = {
        (device_id, r.taken_at.isoformat()): glucose_payload(
            device_id, r.taken_at, drift_s, contour_values(r)
        )
        for r in results
    }
    await meter.start()
    plug_in(meter, by_id)
    try:
        async with (
            running_central(mosquitto.url, tmp_path / "central.db") as central,
            running_gateway(config, clock) as (gateway, task),
        ):
            # A Contour transfer cut short commits nothing: the meter sets the pace, and a
            # partial memory would move the cursor past records never received.
            await pull_the_cable_mid_transfer_then_replug(gateway, meter, by_id, 0)
            assert meter.transfers == 0
            await wait_for(lambda: outbox_settled(gateway, task, len(results)), 20, "all 10")
            transfers = meter.transfers
            await wait_for(lambda: meter.transfers >= transfers + 2, 15, "two more transfers")
            assert await outbox_settled(gateway, task, len(results))
            got = by_device_time(central_payloads(central))
            assert set(got) == set(expected)
            for key, want in expected.items():
                assert observed(got[key]) == want, key
            assert central.store.count() == len(results)
            assert central.stats.duplicates == 0
    finally:
        await meter.stop()
