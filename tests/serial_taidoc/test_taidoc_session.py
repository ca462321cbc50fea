"""TaiDoc sessions (glucose and BP) through real pyserial against the pty simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.reading import (
    BloodPressure,
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    TimeQuality,
    Transport,
    reading_id,
)
from drivers.serial import taidoc
from drivers.serial.errors import LinkLostError, LinkTimeoutError, MeterProtocolError
from simulators.serial.pty import PtyFaults
from simulators.serial.taidoc import StoredRecord, TaiDocMeter, make_bp_simulator, sample_records
from tests.serial_contour.support import NOW, run_session
from tests.support.sink import MemorySink, SinkFailure

LOCAL_NOW = datetime(2026, 11, 27, 14, 0)  # NOW in Asia/Makassar


def _meter(count: int = 5, *, bp: bool = False, **kwargs: object) -> TaiDocMeter:
    records = sample_records(count, newest=LOCAL_NOW - timedelta(minutes=3), blood_pressure=bp)
    return TaiDocMeter(records, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def _summary(sink: MemorySink) -> set[tuple[str | None, tuple[float | None, ...]]]:
    out: set[tuple[str | None, tuple[float | None, ...]]] = set()
    for r in sink.readings.values():
        v = r.values
        if isinstance(v, Glucose):
            out.add((r.device_time, (v.glucose_mgdl,)))
        else:
            out.add((r.device_time, (v.systolic_mmhg, v.diastolic_mmhg, v.pulse_bpm)))
    return out


def _expected(meter: TaiDocMeter) -> set[tuple[str | None, tuple[float | None, ...]]]:
    out: set[tuple[str | None, tuple[float | None, ...]]] = set()
    for rec in meter.records:
        v = rec.value
        if isinstance(v, taidoc.BpValue):
            out.add((rec.taken_at.isoformat(), (float(v.systolic), float(v.diastolic),
                                                 float(v.pulse))))
        else:
            out.add((rec.taken_at.isoformat(), (float(v.mgdl),)))
    return out


async def test_glucose_readings_whole_object() -> None:
    meter = _meter()
    sink = MemorySink()
    async with meter:
        await run_session(meter, "taidoc", sink)
    assert _summary(sink) == _expected(meter)
    rec = meter.records[1]  # 12:27 local, 93 mg/dL, meal flag 0x40
    device = DeviceIdentity(
        transport=Transport.SERIAL,
        address=meter.path,
        manufacturer="TaiDoc",
        model="TD-4277",
        serial="42770001",
    )
    key = "42770001|2026-11-27T12:27:00|93 mg/dL meal:40"
    expected = Reading(
        id=reading_id(device, key),
        kind=Kind.GLUCOSE,
        gateway_id="gw-test",
        device=device,
        record_key=key,
        measured_at=datetime(2026, 11, 27, 4, 27, tzinfo=UTC),
        time_quality=TimeQuality.SYNCED,
        values=Glucose(
            glucose_mgdl=93.0,
            original_unit="mg/dL",
            original_value=93.0,
            sample_type="capillary_whole_blood",
            meal="preprandial",
        ),
        device_time="2026-11-27T12:27:00",
        clock_offset_s=0.0,
        received_at=NOW,
        site_id="site-bpn",
    )
    assert rec.taken_at == datetime(2026, 11, 27, 12, 27)
    assert sink.readings[expected.id] == expected
    assert sink.cursors == {(device.id, "records"): "42770001|2026-11-27T13:57:00|70 mg/dL"}


async def test_bp_variant_whole_object() -> None:
    meter = make_bp_simulator(records=3, clock=lambda: NOW)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "taidoc-bp", sink)
    assert _summary(sink) == _expected(meter)
    device = DeviceIdentity(
        transport=Transport.SERIAL,
        address=meter.path,
        manufacturer="TaiDoc",
        model="TD-3128",
        serial="42770001",
    )
    # Record 0: 13:57 local; 110/70, pulse 60.
    key = "42770001|2026-11-27T13:57:00|110/70 60"
    assert sink.readings[reading_id(device, key)] == Reading(
        id=reading_id(device, key),
        kind=Kind.BLOOD_PRESSURE,
        gateway_id="gw-test",
        device=device,
        record_key=key,
        measured_at=datetime(2026, 11, 27, 5, 57, tzinfo=UTC),
        time_quality=TimeQuality.SYNCED,
        values=BloodPressure(
            systolic_mmhg=110.0, diastolic_mmhg=70.0, map_mmhg=None, pulse_bpm=60.0
        ),
        device_time="2026-11-27T13:57:00",
        clock_offset_s=0.0,
        received_at=NOW,
        site_id="site-bpn",
    )


async def test_only_new_records_are_read_and_ids_are_stable() -> None:
    meter = _meter(4)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "taidoc", sink)
        ids = set(sink.readings)
        requests_before = len(meter.stats.received)
        await run_session(meter, "taidoc", sink)
        # Second session: connect, model, 2 serial, clock, count, one record (time+value).
        assert (len(meter.stats.received) - requests_before) // 8 == 8
        assert set(sink.readings) == ids
        meter.add_record(
            StoredRecord(LOCAL_NOW, taidoc.GlucoseValue(180, "postprandial", 0, 0x80))
        )
        await run_session(meter, "taidoc", sink)
    assert len(sink.readings) == 5
    assert len(sink.commits[-1].readings) == 1


async def test_clock_offset_applied_and_clock_set() -> None:
    drift = -7200.0
    records = sample_records(2, newest=LOCAL_NOW - timedelta(hours=2, minutes=3))
    meter = TaiDocMeter(records, clock=lambda: NOW, drift_s=drift)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "taidoc", sink, set_clock=True)
    newest = max(sink.readings.values(), key=lambda r: r.measured_at)
    assert newest.clock_offset_s == drift
    assert newest.time_quality is TimeQuality.DEVICE_CLOCK
    assert newest.measured_at == NOW - timedelta(minutes=3)
    assert meter.clock_sets == [LOCAL_NOW]
    assert meter.meter_time() == LOCAL_NOW


async def test_meter_without_serial_commands() -> None:
    meter = _meter(2, serial=None)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "taidoc", sink)
    assert {r.device.serial for r in sink.readings.values()} == {None}
    assert {r.device.id for r in sink.readings.values()} == {f"serial:{meter.path.upper()}"}


async def test_hi_lo_records() -> None:
    records = [
        StoredRecord(LOCAL_NOW - timedelta(minutes=1), taidoc.GlucoseValue(700, None, 0, 0)),
        StoredRecord(LOCAL_NOW - timedelta(minutes=2), taidoc.GlucoseValue(10, None, 0, 0)),
    ]
    meter = TaiDocMeter(records, clock=lambda: NOW)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "taidoc", sink)
    flags = {(r.values.hi, r.values.lo, r.values.glucose_mgdl, r.values.original_value)
             for r in sink.readings.values() if isinstance(r.values, Glucose)}
    assert flags == {(True, False, None, 700.0), (False, True, None, 10.0)}


async def test_empty_memory() -> None:
    meter = _meter(0)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "taidoc", sink)
    assert sink.readings == {}
    assert sink.commits == []


async def test_full_memory() -> None:
    meter = _meter(450)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "taidoc", sink)
    assert len(sink.readings) == 450
    # Nine batches of 50, oldest first, the cursor riding on the last one (issue 10 item 18).
    assert len(sink.commits) == 9
    assert [c.cursor is not None for c in sink.commits] == [False] * 8 + [True]


@pytest.mark.parametrize(
    "faults",
    [
        PtyFaults(corrupt_replies=frozenset({0, 5, 7, 8})),
        PtyFaults(noise_before=frozenset({1, 6, 9}), noise=b"\x51\x00\xa5\x51"),
        PtyFaults(drop_replies=frozenset({1, 6})),
        PtyFaults(slow_replies=frozenset({4, 8}), slow_delay_s=0.2),
    ],
    ids=["checksum", "noise", "silence", "slow"],
)
async def test_faults_are_recovered(faults: PtyFaults) -> None:
    meter = _meter(faults=faults)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "taidoc", sink, timeout_s=0.3)
    assert _summary(sink) == _expected(meter)


async def test_reply_slower_than_timeout_is_asked_again() -> None:
    meter = _meter(faults=PtyFaults(slow_replies=frozenset({7}), slow_delay_s=0.5))
    sink = MemorySink()
    async with meter:
        await run_session(meter, "taidoc", sink, timeout_s=0.3)
    assert _summary(sink) == _expected(meter)


async def test_unplug_mid_transfer_keeps_nothing_half_done() -> None:
    meter = _meter(faults=PtyFaults(unplug_after_bytes=8 * 9 + 3))
    sink = MemorySink()
    async with meter:
        with pytest.raises(LinkLostError):
            await run_session(meter, "taidoc", sink)
    assert sink.cursors == {}
    meter.faults = PtyFaults()
    async with meter:
        await run_session(meter, "taidoc", sink)
    assert _summary(sink) == _expected(meter)


async def test_silent_meter() -> None:
    meter = _meter(faults=PtyFaults(drop_replies=frozenset(range(20))))
    async with meter:
        with pytest.raises(LinkTimeoutError, match="did not answer command 0x22"):
            await run_session(meter, "taidoc", MemorySink(), timeout_s=0.1, retries=2)


async def test_always_damaged_replies() -> None:
    meter = _meter(faults=PtyFaults(corrupt_replies=frozenset(range(20))))
    async with meter:
        with pytest.raises(MeterProtocolError, match="damaged replies to command 0x22"):
            await run_session(meter, "taidoc", MemorySink(), retries=2)


async def test_commit_failure_leaves_cursor() -> None:
    meter = _meter()
    sink = MemorySink(fail_on_commit=0)
    async with meter:
        with pytest.raises(SinkFailure):
            await run_session(meter, "taidoc", sink)
        assert sink.cursors == {}
        await run_session(meter, "taidoc", sink)
    assert _summary(sink) == _expected(meter)
