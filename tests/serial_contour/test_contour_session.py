"""Contour session through real pyserial against the pty simulator, including every fault."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.reading import (
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    TimeQuality,
    Transport,
    reading_id,
)
from drivers.serial import contour
from drivers.serial.errors import LinkLostError, LinkTimeoutError, MeterProtocolError
from simulators.serial.contour import ContourMeter, make_simulator, sample_results
from simulators.serial.pty import PtyFaults
from tests.serial_contour.support import NOW, run_session
from tests.support.sink import MemorySink, SinkFailure

LOCAL_NOW = datetime(2026, 11, 27, 14, 0)  # NOW in Asia/Makassar


def _meter(count: int = 6, **kwargs: object) -> ContourMeter:
    results = sample_results(count, newest=LOCAL_NOW - timedelta(minutes=5))
    return ContourMeter(results, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def _summary(sink: MemorySink) -> set[tuple[str | None, float | None, bool, bool, bool]]:
    out = set()
    for r in sink.readings.values():
        assert isinstance(r.values, Glucose)
        v = r.values
        out.add((r.device_time, v.glucose_mgdl, v.hi, v.lo, v.control_solution))
    return out


def _expected(meter: ContourMeter) -> set[tuple[str | None, float | None, bool, bool, bool]]:
    return {
        (r.taken_at.isoformat(), r.glucose_mgdl, r.hi, r.lo, r.control) for r in meter.results
    }


async def test_reads_all_results_as_whole_readings() -> None:
    meter = _meter()
    sink = MemorySink()
    async with meter:
        await run_session(meter, "contour", sink)
    assert _summary(sink) == _expected(meter)
    first = meter.results[1]  # 06:55 minus 4 h, "B" marker
    device = DeviceIdentity(
        transport=Transport.SERIAL,
        address=meter.path,
        manufacturer="Ascensia",
        model="Contour",
        serial="7150-1234567",
        firmware="01.23",
    )
    key = f"7150-1234567|{first.taken_at.isoformat()}|{first.value} mg/dL B"
    expected = Reading(
        id=reading_id(device, key),
        kind=Kind.GLUCOSE,
        gateway_id="gw-test",
        device=device,
        record_key=key,
        measured_at=first.taken_at.replace(tzinfo=UTC) - timedelta(hours=8),
        time_quality=TimeQuality.SYNCED,
        values=Glucose(
            glucose_mgdl=float(first.value),
            original_unit="mg/dL",
            original_value=float(first.value),
            sample_type="capillary_plasma",
            meal="preprandial",
            sensor_status=frozenset({"marker:B"}),
        ),
        device_time=first.taken_at.isoformat(),
        clock_offset_s=0.0,
        received_at=NOW,
        site_id="site-bpn",
    )
    assert sink.readings[expected.id] == expected
    # The cursor is the newest record's key, committed with the last batch.
    # Newest sample: 13:55 local, LO marker, value 10.
    assert sink.cursors == {(device.id, "records"): "7150-1234567|2026-11-27T13:55:00|< 10 mg/dL"}


async def test_reread_gives_same_ids_and_only_new_records_are_committed() -> None:
    meter = _meter(4)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "contour", sink)
        ids = set(sink.readings)
        commits = len(sink.commits)
        await run_session(meter, "contour", sink)
        assert set(sink.readings) == ids
        assert len(sink.commits) == commits  # the cursor was met at once: nothing to commit
        meter.results.append(
            contour.ResultRecord(5, "Glucose", "140", "mg/dL", "P", ("A",), LOCAL_NOW)
        )
        await run_session(meter, "contour", sink)
    assert len(sink.readings) == 5
    assert len(sink.commits[-1].readings) == 1
    assert meter.transfers == 3


async def test_clock_drift_is_measured_and_removed() -> None:
    drift = 3600.0
    results = sample_results(2, newest=LOCAL_NOW + timedelta(hours=1) - timedelta(minutes=5))
    meter = ContourMeter(results, clock=lambda: NOW, drift_s=drift)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "contour", sink)
    newest = max(sink.readings.values(), key=lambda r: r.measured_at)
    assert newest.clock_offset_s == drift
    assert newest.time_quality is TimeQuality.DEVICE_CLOCK
    assert newest.measured_at == NOW - timedelta(minutes=5)
    assert newest.device_time == "2026-11-27T14:55:00"


async def test_small_drift_is_synced_and_still_removed() -> None:
    # Within core.time_policy's 120 s the meter counts as in sync, but the measured offset is
    # removed all the same (before issue 11 item 5 serial kept the time as it was while BLE
    # removed it), so measured_at == device time in UTC - clock_offset_s on every path.
    drift = 60.0
    results = sample_results(1, newest=LOCAL_NOW - timedelta(minutes=4))
    meter = ContourMeter(results, clock=lambda: NOW, drift_s=drift)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "contour", sink)
    (reading,) = sink.readings.values()
    assert reading.clock_offset_s == drift
    assert reading.time_quality is TimeQuality.SYNCED
    assert reading.measured_at == NOW - timedelta(minutes=5)


async def test_future_record_time_is_unknown_quality() -> None:
    late = LOCAL_NOW.replace(hour=20)
    results = [contour.ResultRecord(1, "Glucose", "99", "mg/dL", "P", (), late)]
    meter = ContourMeter(results, clock=lambda: NOW)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "contour", sink)
    (reading,) = sink.readings.values()
    assert reading.time_quality is TimeQuality.UNKNOWN
    # One time policy (issue 11 item 5): an implausible stored time falls back to the receive
    # time, as on BLE (it was the meter's 20:00 WITA = 12:00 UTC); the meter's own time is
    # kept in device_time.
    assert reading.measured_at == NOW
    assert reading.device_time == late.isoformat()


async def test_empty_memory() -> None:
    meter = _meter(0)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "contour", sink)
    assert sink.readings == {}
    assert meter.transfers == 1


async def test_full_memory() -> None:
    meter = _meter(480)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "contour", sink)
    assert len(sink.readings) == 480
    assert len(sink.commits) == 10  # batches of 50


@pytest.mark.parametrize(
    "faults",
    [
        PtyFaults(corrupt_replies=frozenset({1, 3, 4})),
        PtyFaults(noise_before=frozenset({0, 2, 5})),
        PtyFaults(drop_replies=frozenset({0, 3})),
        PtyFaults(slow_replies=frozenset({2, 4}), slow_delay_s=0.2),
        PtyFaults(reply_delay_s=0.02),
    ],
    ids=["checksum", "noise", "silence", "slow", "slow-all"],
)
async def test_faults_are_recovered(faults: PtyFaults) -> None:
    meter = _meter(faults=faults)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "contour", sink)
    assert _summary(sink) == _expected(meter)


async def test_retransmitted_frames_are_ignored() -> None:
    meter = _meter(repeat_after_ack=frozenset({0, 3}))
    sink = MemorySink()
    async with meter:
        await run_session(meter, "contour", sink)
    assert _summary(sink) == _expected(meter)
    assert len(sink.readings) == 6


async def test_reply_slower_than_timeout_is_naked_and_resent() -> None:
    meter = _meter(faults=PtyFaults(slow_replies=frozenset({3}), slow_delay_s=0.6))
    sink = MemorySink()
    async with meter:
        await run_session(meter, "contour", sink, timeout_s=0.3)
    assert _summary(sink) == _expected(meter)


async def test_unplug_mid_transfer_commits_nothing_then_recovers() -> None:
    meter = _meter(faults=PtyFaults(unplug_after_bytes=150))
    sink = MemorySink()
    async with meter:
        with pytest.raises(LinkLostError):
            await run_session(meter, "contour", sink)
    assert sink.readings == {}
    assert meter.stats.unplugged
    meter.faults = PtyFaults()
    async with meter:
        await run_session(meter, "contour", sink)
    assert _summary(sink) == _expected(meter)


async def test_silent_meter_times_out() -> None:
    meter = _meter(faults=PtyFaults(drop_replies=frozenset(range(10))))
    async with meter:
        with pytest.raises(LinkTimeoutError, match="did not bid"):
            await run_session(meter, "contour", MemorySink(), timeout_s=0.1, retries=2)


async def test_persistently_damaged_frame_gives_up() -> None:
    meter = _meter(faults=PtyFaults(corrupt_replies=frozenset(range(1, 30))))
    async with meter:
        with pytest.raises(MeterProtocolError, match="damaged"):
            await run_session(meter, "contour", MemorySink())


async def test_commit_failure_keeps_cursor() -> None:
    meter = _meter()
    sink = MemorySink(fail_on_commit=0)
    async with meter:
        with pytest.raises(SinkFailure):
            await run_session(meter, "contour", sink)
        assert sink.cursors == {}
        await run_session(meter, "contour", sink)
    assert _summary(sink) == _expected(meter)


async def test_set_clock_is_declined_not_failed(caplog: pytest.LogCaptureFixture) -> None:
    meter = _meter(1)
    async with meter:
        await run_session(meter, "contour", MemorySink(), set_clock=True)
    assert "not supported" in caplog.text


async def test_factory_simulator() -> None:
    meter = make_simulator(records=3, clock=lambda: NOW, drift_s=-30)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "contour", sink)
    assert len(sink.readings) == 3
    assert {r.clock_offset_s for r in sink.readings.values()} == {-60.0}
