"""Beurer BM58 session through real pyserial against the pty simulator, including every fault."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.reading import (
    BloodPressure,
    DeviceIdentity,
    Kind,
    Reading,
    TimeQuality,
    Transport,
    reading_id,
)
from drivers.serial import beurer_bm58 as bm58
from drivers.serial.errors import LinkLostError, LinkTimeoutError, MeterProtocolError
from simulators.serial.beurer_bm58 import (
    FULL_MEMORY,
    BeurerBm58Meter,
    make_simulator,
    sample_records,
)
from simulators.serial.pty import PtyFaults
from tests.serial_contour.support import NOW, run_session
from tests.support.sink import MemorySink, SinkFailure

LOCAL_NOW = datetime(2026, 11, 27, 14, 0)  # NOW in Asia/Makassar


def _meter(count: int = 5, **kwargs: object) -> BeurerBm58Meter:
    records = sample_records(count, newest=LOCAL_NOW - timedelta(minutes=2))
    return BeurerBm58Meter(records, **kwargs)  # type: ignore[arg-type]


def _summary(sink: MemorySink) -> set[tuple[str | None, float | None, float | None, float | None]]:
    out = set()
    for r in sink.readings.values():
        assert isinstance(r.values, BloodPressure)
        v = r.values
        out.add((r.device_time, v.systolic_mmhg, v.diastolic_mmhg, v.pulse_bpm))
    return out


def _expected(
    records: list[bm58.BpRecord],
) -> set[tuple[str | None, float | None, float | None, float | None]]:
    return {
        (r.taken_at.isoformat(), float(r.systolic), float(r.diastolic), float(r.pulse))
        for r in records
    }


async def test_reads_all_records_as_whole_readings() -> None:
    meter = _meter()
    sink = MemorySink()
    async with meter:
        await run_session(meter, "beurer-bm58", sink)
    assert _summary(sink) == _expected(meter.records)
    device = DeviceIdentity(
        transport=Transport.SERIAL,
        address=meter.path,
        manufacturer="Beurer",
        model="Andon KD-001 BM58",
    )
    # Slot 2: 13:58 - 4 h = 09:58 local; 116/70, pulse 58.
    key = f"{device.id}|2026-11-27T09:58:00|116/70 58"
    assert sink.readings[reading_id(device, key)] == Reading(
        id=reading_id(device, key),
        kind=Kind.BLOOD_PRESSURE,
        gateway_id="gw-test",
        device=device,
        record_key=key,
        measured_at=datetime(2026, 11, 27, 1, 58, tzinfo=UTC),
        time_quality=TimeQuality.DEVICE_CLOCK,
        values=BloodPressure(
            systolic_mmhg=116.0, diastolic_mmhg=70.0, map_mmhg=None, pulse_bpm=58.0
        ),
        device_time="2026-11-27T09:58:00",
        clock_offset_s=None,
        received_at=NOW,
        site_id="site-bpn",
    )
    assert sink.cursors == {(device.id, "records"): f"{device.id}|2026-11-27T13:58:00|105/65 55"}


async def test_reread_is_idempotent_and_new_records_follow() -> None:
    meter = _meter(3)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "beurer-bm58", sink)
        ids = set(sink.readings)
        commits = len(sink.commits)
        await run_session(meter, "beurer-bm58", sink)
        assert set(sink.readings) == ids
        assert len(sink.commits) == commits
        meter.records.insert(0, bm58.BpRecord(150, 95, 80, LOCAL_NOW))
        await run_session(meter, "beurer-bm58", sink)
    assert len(sink.readings) == 4
    assert len(sink.commits[-1].readings) == 1


async def test_empty_slots_are_skipped() -> None:
    meter = _meter(4, empty_slots=frozenset({2, 3}))
    sink = MemorySink()
    async with meter:
        await run_session(meter, "beurer-bm58", sink)
    assert _summary(sink) == _expected([meter.records[0], meter.records[3]])


async def test_empty_memory() -> None:
    meter = _meter(0)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "beurer-bm58", sink)
    assert sink.readings == {}
    assert sink.commits == []


async def test_full_memory() -> None:
    meter = make_simulator(records=FULL_MEMORY, clock=lambda: NOW)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "beurer-bm58", sink)
    assert len(sink.readings) == FULL_MEMORY
    assert _summary(sink) == _expected(meter.records)


async def test_future_time_is_unknown_quality() -> None:
    meter = BeurerBm58Meter([bm58.BpRecord(120, 80, 70, LOCAL_NOW + timedelta(days=2))])
    sink = MemorySink()
    async with meter:
        await run_session(meter, "beurer-bm58", sink)
    (reading,) = sink.readings.values()
    assert reading.time_quality is TimeQuality.UNKNOWN
    # One time policy (issue 11 item 5): an implausible stored time falls back to the receive
    # time, as on BLE, instead of keeping an impossible future instant that would sort after
    # every real reading; the meter's own time is kept in device_time.
    assert reading.measured_at == NOW
    assert reading.device_time == (LOCAL_NOW + timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    "faults",
    [
        # wake, id, count and record 2 each damaged once (count 5 reads as 4 once).
        PtyFaults(corrupt_replies=frozenset({0, 2, 5, 9})),
        PtyFaults(noise_before=frozenset({0, 1, 2, 3, 5})),
        PtyFaults(drop_replies=frozenset({0, 3, 5})),
        PtyFaults(slow_replies=frozenset({1, 4}), slow_delay_s=0.2),
    ],
    ids=["damaged", "noise", "silence", "slow"],
)
async def test_faults_are_recovered(faults: PtyFaults) -> None:
    meter = _meter(faults=faults)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "beurer-bm58", sink, timeout_s=0.3)
    assert _summary(sink) == _expected(meter.records)


async def test_unplug_mid_transfer() -> None:
    meter = _meter(faults=PtyFaults(unplug_after_bytes=1 + 17 + 1 + 9 + 4))
    sink = MemorySink()
    async with meter:
        with pytest.raises(LinkLostError):
            await run_session(meter, "beurer-bm58", sink)
    assert sink.readings == {}
    meter.faults = PtyFaults()
    async with meter:
        await run_session(meter, "beurer-bm58", sink)
    assert _summary(sink) == _expected(meter.records)


async def test_silent_monitor() -> None:
    meter = _meter(faults=PtyFaults(drop_replies=frozenset(range(10))))
    async with meter:
        with pytest.raises(LinkTimeoutError, match="press MEM"):
            await run_session(meter, "beurer-bm58", MemorySink(), timeout_s=0.1, retries=2)


async def test_garbage_replies_give_up() -> None:
    meter = _meter(faults=PtyFaults(corrupt_replies=frozenset(range(10))))
    async with meter:
        with pytest.raises(MeterProtocolError, match="unusable replies to 0xAA"):
            await run_session(meter, "beurer-bm58", MemorySink(), retries=2)


async def test_commit_failure_leaves_cursor() -> None:
    meter = _meter()
    sink = MemorySink(fail_on_commit=0)
    async with meter:
        with pytest.raises(SinkFailure):
            await run_session(meter, "beurer-bm58", sink)
        assert sink.cursors == {}
        await run_session(meter, "beurer-bm58", sink)
    assert _summary(sink) == _expected(meter.records)


async def test_set_clock_is_declined(caplog: pytest.LogCaptureFixture) -> None:
    meter = _meter(1)
    async with meter:
        await run_session(meter, "beurer-bm58", MemorySink(), set_clock=True)
    assert "no clock command" in caplog.text
