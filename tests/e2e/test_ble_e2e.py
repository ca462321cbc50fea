"""Issue 3 end to end: simulated BLE meters -> real gateway (supervisor, BLE sessions, SQLite
outbox, publisher) -> real mosquitto -> real central -> receipts -> outbox confirmed.

Expected values are written from what was put into the simulated meters' memories (mmHg,
mg/dL, WITA wall-clock stamps and clock drifts), never from the gateway's own conversion code.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.devices import DeviceConfig
from drivers.ble.datetime_codec import BleDateTime
from drivers.ble.link import ConnectPolicy
from drivers.ble.racp import count_all, count_from_sequence, report_all, report_from_sequence
from drivers.ble.session_bp import BpOptions
from drivers.ble.session_glucose import GlucoseOptions
from simulators.ble.backend import Air
from simulators.ble.devices import (
    AndUa651,
    BpMonitor,
    BpRecord,
    CareSensMeter,
    DeviceClock,
    GlucoseMeter,
    glucose_record,
)
from simulators.ble.peripheral import GattPeripheral
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
from tests.support.harness import gateway_config, running_central, wait_for
from tests.support.mosquitto import Mosquitto

NOW_WITA = datetime(2026, 11, 27, 13, 0, 0)  # NOW on a correctly set meter in Balikpapan

BP_ID = "omron-healthcare:20240501001"
AND_ID = "a&d-medical:5140100123"
GLUCOSE_ID = "ascensia-diabetes-care:7830H5001234"
CARESENS_ID = "i-sens:ISN00012345"

GLUCOSE_DRIFT_S = 600.0  # ten minutes fast: corrected, DEVICE_CLOCK
AND_DRIFT_S = -300.0  # five minutes slow: corrected, then the gateway sets the clock
CARESENS_DRIFT_S = 95.0  # within the two-minute tolerance: SYNCED (still corrected)


def bp_values(systolic: float, diastolic: float, pulse: float, status: list[str]) -> dict[str, Any]:
    return {
        "systolic_mmhg": systolic,
        "diastolic_mmhg": diastolic,
        # The simulators store MAP as diastolic + a third of the pulse pressure, rounded.
        "map_mmhg": float(round(diastolic + (systolic - diastolic) / 3)),
        "pulse_bpm": pulse,
        "original_unit": "mmHg",
        "status": status,
        "user_id": None,
    }


def glucose_values(
    mgdl: float | None, meal: str | None, *, hi: bool = False, status: list[str] | None = None
) -> dict[str, Any]:
    return {
        "glucose_mgdl": mgdl,
        "original_unit": "mg/dL",
        "original_value": mgdl,
        "sample_type": "capillary_whole_blood",
        "sample_location": "finger",
        "meal": meal,
        "control_solution": False,
        "hi": hi,
        "lo": False,
        "sensor_status": status or [],
    }


def expected_reading(
    device_id: str,
    kind: str,
    device_local: datetime,
    values: dict[str, Any],
    *,
    offset_s: float | None,
    quality: str,
    measured_at: datetime | None = None,
) -> dict[str, Any]:
    corrected = wita_to_utc(device_local) - timedelta(seconds=offset_s or 0.0)
    return {
        "device_id": device_id,
        "kind": kind,
        "device_time": device_local.isoformat(),
        "measured_at": rfc3339(measured_at or corrected),
        "time_quality": quality,
        "clock_offset_s": offset_s,
        "values": values,
    }


def observed(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "device_id": payload["device"]["id"],
        "kind": payload["kind"],
        "device_time": payload["device_time"],
        "measured_at": payload["measured_at"],
        "time_quality": payload["time_quality"],
        "clock_offset_s": payload["clock_offset_s"],
        "values": payload["values"],
    }


def device_configs(air: Air, peripherals: list[GattPeripheral]) -> list[DeviceConfig]:
    options: dict[str, Any] = {
        "backend": air,
        "site_tz": "Asia/Makassar",
        "connect_policy": ConnectPolicy(
            scan_timeout_s=1.0, attempts=2, backoff_s=0.05, attempt_timeout_s=5.0
        ),
        "bp": BpOptions(idle_timeout_s=0.5, max_session_s=5.0),
        "glucose": GlucoseOptions(racp_timeout_s=2.0, busy_backoff_s=0.05, clock_timeout_s=1.0),
        # The supervisor reconnects quickly, so one test sees many sessions per meter.
        "poll_s": 0.15,
        "retry_initial_s": 0.05,
        "retry_max_s": 0.2,
    }
    return [
        DeviceConfig(name=f"ble-{i}", transport="ble", address=p.address, options=options)
        for i, p in enumerate(peripherals)
    ]


async def test_ble_meters_to_central_exactly_once_with_exact_values_and_times(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    clock = FakeClock(NOW)
    bp_taken = [NOW_WITA - timedelta(minutes=61), NOW_WITA - timedelta(minutes=31)]
    bp = BpMonitor(
        records=[
            BpRecord(128.0, 82.0, 71.0, bp_taken[0], status=0),
            BpRecord(142.0, 91.0, 77.0, bp_taken[1], status=0x0004),
        ],
        clock=DeviceClock(clock),
    )
    # A&D stamps with its own (slow) clock; the gateway measures and then sets it.
    and_taken = [
        NOW_WITA + timedelta(seconds=AND_DRIFT_S) - timedelta(hours=2),
        NOW_WITA + timedelta(seconds=AND_DRIFT_S) - timedelta(minutes=10),
    ]
    and_monitor = AndUa651(
        records=[
            BpRecord(135.0, 88.0, 80.0, and_taken[0], status=0x0001),
            BpRecord(119.0, 77.0, 66.0, and_taken[1], status=0),
        ],
        clock=DeviceClock(clock, drift_s=AND_DRIFT_S),
    )
    glucose_local_now = NOW_WITA + timedelta(seconds=GLUCOSE_DRIFT_S)
    g_taken = [glucose_local_now - timedelta(hours=h) for h in (30, 24, 18, 12, 6)]
    glucose = GlucoseMeter(
        records=[
            glucose_record(1, g_taken[0], 96.0, meal=1),
            glucose_record(2, g_taken[1], 142.0, meal=2),
            glucose_record(3, g_taken[2], 120.0, control_solution=True),  # not a reading
            glucose_record(4, g_taken[3], None, hi=True),
            glucose_record(5, g_taken[4], 188.0),
        ],
        clock=DeviceClock(clock, drift_s=GLUCOSE_DRIFT_S),
    )
    caresens_local_now = NOW_WITA + timedelta(seconds=CARESENS_DRIFT_S)
    c_taken = caresens_local_now - timedelta(hours=5)
    caresens = CareSensMeter(
        records=[
            glucose_record(1, c_taken, 131.0, meal=1),
            glucose_record(2, c_taken + timedelta(hours=2), 15.0, meal=6),  # ketone, not glucose
            # Firmware bug: month 13 in Base Time. Read as next January: in the future, so the
            # time is not trusted (UNKNOWN, receive time).
            glucose_record(
                3, c_taken, 104.0, base_time=BleDateTime(2026, 13, 2, 7, 30, 0),
                time_offset_minutes=None,
            ),
        ],
        clock=DeviceClock(clock, drift_s=CARESENS_DRIFT_S),
    )
    air = Air()
    peripherals: list[GattPeripheral] = [bp, and_monitor, glucose, caresens]
    for peripheral in peripherals:
        air.add(peripheral)
    config = dataclasses.replace(
        gateway_config(tmp_path / "gw", mosquitto.url),
        devices=tuple(device_configs(air, peripherals)),
    )

    expected = [
        expected_reading(BP_ID, "blood_pressure", bp_taken[0], bp_values(128.0, 82.0, 71.0, []),
                         offset_s=None, quality="device_clock"),
        expected_reading(BP_ID, "blood_pressure", bp_taken[1],
                         bp_values(142.0, 91.0, 77.0, ["irregular_pulse"]),
                         offset_s=None, quality="device_clock"),
        expected_reading(AND_ID, "blood_pressure", and_taken[0],
                         bp_values(135.0, 88.0, 80.0, ["body_movement"]),
                         offset_s=AND_DRIFT_S, quality="device_clock"),
        expected_reading(AND_ID, "blood_pressure", and_taken[1], bp_values(119.0, 77.0, 66.0, []),
                         offset_s=AND_DRIFT_S, quality="device_clock"),
        expected_reading(GLUCOSE_ID, "glucose", g_taken[0], glucose_values(96.0, "preprandial"),
                         offset_s=GLUCOSE_DRIFT_S, quality="device_clock"),
        expected_reading(GLUCOSE_ID, "glucose", g_taken[1], glucose_values(142.0, "postprandial"),
                         offset_s=GLUCOSE_DRIFT_S, quality="device_clock"),
        expected_reading(GLUCOSE_ID, "glucose", g_taken[3],
                         glucose_values(None, None, hi=True, status=["result_too_high"]),
                         offset_s=GLUCOSE_DRIFT_S, quality="device_clock"),
        expected_reading(GLUCOSE_ID, "glucose", g_taken[4], glucose_values(188.0, None),
                         offset_s=GLUCOSE_DRIFT_S, quality="device_clock"),
        expected_reading(CARESENS_ID, "glucose", c_taken, glucose_values(131.0, "preprandial"),
                         offset_s=CARESENS_DRIFT_S, quality="synced"),
        expected_reading(CARESENS_ID, "glucose", datetime(2027, 1, 2, 7, 30, 0),
                         glucose_values(104.0, None), offset_s=CARESENS_DRIFT_S,
                         quality="unknown", measured_at=NOW),
    ]
    try:
        async with (
            running_central(mosquitto.url, tmp_path / "central.db") as central,
            running_gateway(config, clock) as (gateway, task),
        ):
            # Several sessions per meter: the same memories are read again and again.
            await wait_for(
                lambda: all(p.connections >= 3 for p in peripherals), 20, "three sessions each"
            )
            await wait_for(lambda: outbox_settled(gateway, task, len(expected)), 20, "confirmed")
            assert central.store.count() == len(expected)
            payloads = central_payloads(central)
            got = by_device_time(payloads)
            want = {(e["device_id"], e["device_time"]): e for e in expected}
            assert set(got) == set(want)
            for key, reading in want.items():
                assert observed(got[key]) == reading, key
            assert {p["gateway_id"] for p in payloads} == {"gw-001"}
            assert {p["site_id"] for p in payloads} == {"test-site"}
            # Re-reading never even reached central twice: the outbox dropped the copies.
            assert central.stats.duplicates == 0
            assert central.stats.stored == len(expected)
            # The gateway set the A&D clock to its own WITA time; from then on it is right.
            assert BleDateTime.from_datetime(NOW_WITA) in and_monitor.clock_writes
            assert and_monitor.clock.local_now() == NOW_WITA

            # A resident measures on the glucose meter while the gateway keeps polling.
            before = glucose.connections
            clock.advance(60)
            new_local = NOW_WITA + timedelta(seconds=60 + GLUCOSE_DRIFT_S)
            glucose.records.append(glucose_record(6, new_local, 110.0, meal=3))
            await wait_for(
                lambda: outbox_settled(gateway, task, len(expected) + 1), 20, "new record"
            )
            await wait_for(lambda: glucose.connections >= before + 3, 20, "more sessions")
            await wait_for(
                lambda: outbox_settled(gateway, task, len(expected) + 1), 10, "still exact"
            )
            new = by_device_time(central_payloads(central))[(GLUCOSE_ID, new_local.isoformat())]
            assert observed(new) == expected_reading(
                GLUCOSE_ID, "glucose", new_local, glucose_values(110.0, "fasting"),
                offset_s=GLUCOSE_DRIFT_S, quality="device_clock",
            )
            assert central.store.count() == len(expected) + 1
            assert central.stats.duplicates == 0
    finally:
        await air.aclose()

    # The RACP cursor: the first session asks for everything, every later one only for
    # records after the last committed sequence number.
    requests = glucose.racp_requests
    assert requests[:2] == [count_all(), report_all()]
    fetch_new = requests.index(report_from_sequence(6))
    assert requests[fetch_new - 1] == count_from_sequence(6)
    between = requests[2 : fetch_new - 1]
    assert len(between) >= 2
    assert all(r == count_from_sequence(6) for r in between)
    after = requests[fetch_new + 1 :]
    assert len(after) >= 2
    assert all(r == count_from_sequence(7) for r in after)
