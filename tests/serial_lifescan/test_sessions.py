"""Both LifeScan sessions through real pyserial against their pty simulators."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from typing import Any

import pytest

from core.events import ReadingStored
from core.reading import (
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    TimeQuality,
    Transport,
    reading_id,
)
from drivers.errors import DeviceSessionError
from drivers.serial import onetouch_ultra2 as ultra2
from drivers.serial.errors import (
    LinkLostError,
    MeterNotReadyError,
    MeterProtocolError,
    PortMissingError,
)
from simulators.serial.meter_clock import DriftingClock
from simulators.serial.onetouch_easy import UltraEasyMeter
from simulators.serial.onetouch_ultra2 import Ultra2Meter
from simulators.serial.pty import PtyFaults
from tests.serial_lifescan.harness import (
    PROTOCOLS,
    Harness,
    build_meter,
    memory_size,
    new_record,
)
from tests.support.clock import FakeClock
from tests.support.sink import MemorySink

NOW_LOCAL = datetime(2026, 11, 27, 10, 0, 0)  # the fake clock's 02:00 UTC in WITA


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _keys(sink: MemorySink) -> list[str | None]:
    return [sink.readings[i].record_key for i in sink.order]


# -- whole readings -----------------------------------------------------------------------


async def test_ultra2_readings_whole(clock: FakeClock, sink: MemorySink) -> None:
    records = [
        ultra2.Record(datetime(2026, 11, 27, 9, 30), "FRI", 105, meal="preprandial", comment=3),
        ultra2.Record(datetime(2026, 11, 26, 21, 15), "THU", 132, control=True,
                      parity_error=True, comment=0),
        ultra2.Record(datetime(2026, 11, 26, 7, 0), "THU", 650, meal="postprandial", comment=0),
    ]
    meter = Ultra2Meter(records=records, clock=DriftingClock(clock, drift_s=120.0))
    async with meter:
        ctx = await Harness("onetouch-ultra2", clock, sink).run(meter)
    device = DeviceIdentity(Transport.SERIAL, meter.path, "LifeScan", "OneTouch Ultra 2",
                            "ZW123456Y", "P02.00.00 30/08/06")

    def expected(key: str, measured: datetime, local: str, values: Glucose) -> Reading:
        # 120 s is exactly the in-sync threshold of core.time_policy: SYNCED, as BLE and the
        # other serial meters always said (LifeScan alone called it DEVICE_CLOCK before the
        # one time policy, issue 11 item 5). The offset is still applied.
        return Reading(
            id=reading_id(device, key), kind=Kind.GLUCOSE, gateway_id="gw-bpn-01",
            device=device, record_key=key, measured_at=measured,
            time_quality=TimeQuality.SYNCED, values=values, device_time=local,
            clock_offset_s=120.0, received_at=datetime(2026, 11, 27, 2, 0, tzinfo=UTC),
            site_id="posyandu-melati",
        )

    # Committed oldest first (issue 10 item 18); listed here newest first, as the meter does.
    assert [sink.readings[i] for i in reversed(sink.order)] == [
        expected(
            "ZW123456Y|2026-11-27T09:30:00|105 preprandial comment:3",
            datetime(2026, 11, 27, 1, 28, tzinfo=UTC),  # 09:30 WITA, meter 2 min fast
            "2026-11-27T09:30:00",
            Glucose(105.0, "mg/dL", 105.0, "capillary_whole_blood", None, "preprandial"),
        ),
        expected(
            "ZW123456Y|2026-11-26T21:15:00|C132",
            datetime(2026, 11, 26, 13, 13, tzinfo=UTC),
            "2026-11-26T21:15:00",
            Glucose(132.0, "mg/dL", 132.0, "control_solution", None, None, True,
                    sensor_status=frozenset({"parity_error"})),
        ),
        expected(
            "ZW123456Y|2026-11-26T07:00:00|650 postprandial",
            datetime(2026, 11, 25, 22, 58, tzinfo=UTC),
            "2026-11-26T07:00:00",
            Glucose(None, "mg/dL", 650.0, "capillary_whole_blood", None, "postprandial",
                    hi=True),
        ),
    ]
    assert sink.cursors == {
        ("lifescan:ZW123456Y", "records"): "ZW123456Y|2026-11-27T09:30:00|105 preprandial comment:3"
    }
    assert ctx.status.readings_total == 3
    assert ctx.status.state == "idle"


async def test_ultraeasy_reading_whole(clock: FakeClock, sink: MemorySink) -> None:
    from drivers.serial import onetouch_easy as easy

    # The meter runs an hour slow (its clock says 09:00 at 10:00 WITA), so its newest record
    # is stamped before 09:00 on its clock: a later stamp would be in the future once
    # corrected, which core.time_policy rejects (this fixture had 09:30:15 before).
    meter = UltraEasyMeter(records=[easy.Record(datetime(2026, 11, 27, 8, 30, 15), 12)],
                           clock=DriftingClock(clock, drift_s=-3600.0))
    async with meter:
        await Harness("onetouch-ultraeasy", clock, sink).run(meter)
    device = DeviceIdentity(Transport.SERIAL, meter.path, "LifeScan", "OneTouch Ultra Easy",
                            "JDG1234EZ", "P02.00.00 08/07/08")
    key = "JDG1234EZ|2026-11-27T08:30:15|12"
    assert list(sink.readings.values()) == [
        Reading(
            id=reading_id(device, key), kind=Kind.GLUCOSE, gateway_id="gw-bpn-01",
            device=device, record_key=key,
            measured_at=datetime(2026, 11, 27, 1, 30, 15, tzinfo=UTC),  # meter 1 h slow
            time_quality=TimeQuality.DEVICE_CLOCK,
            values=Glucose(None, "mg/dL", 12.0, "capillary_whole_blood", lo=True),
            device_time="2026-11-27T08:30:15", clock_offset_s=-3600.0,
            received_at=datetime(2026, 11, 27, 2, 0, tzinfo=UTC), site_id="posyandu-melati",
        )
    ]


# -- behaviour common to both families ----------------------------------------------------


async def test_reread_gives_same_ids_and_only_new_records_are_committed(
    protocol: str, clock: FakeClock, sink: MemorySink
) -> None:
    meter = build_meter(protocol, clock, records=6, drift_s=45.0)
    harness = Harness(protocol, clock, sink)
    async with meter:
        ctx = await harness.run(meter)
        first_ids = list(sink.order)
        assert len(first_ids) == 6
        events: list[object] = []
        async with ctx.events.subscribe() as queue:
            ctx2 = await harness.run(meter)
            while not queue.empty():
                events.append(queue.get_nowait())
        assert sink.order == first_ids  # nothing new, nothing re-stored
        assert not any(isinstance(e, ReadingStored) for e in events)  # the sink announces
        assert ctx2.status.readings_total == 0

        clock.advance(600)
        new_record(meter, NOW_LOCAL.replace(minute=5), 141)
        await harness.run(meter)
    assert len(sink.order) == 7
    newest = sink.readings[sink.order[-1]]
    assert newest.values == Glucose(141.0, "mg/dL", 141.0, "capillary_whole_blood")
    (cursor,) = sink.cursors.values()
    assert cursor == newest.record_key
    # the second run committed nothing, the third exactly one reading with the cursor
    assert len(sink.commits[-1].readings) == 1


async def test_recommitting_gives_identical_ids(protocol: str, clock: FakeClock) -> None:
    """A fresh outbox (e.g. cursor lost) re-reads the memory with the very same ids."""
    meter = build_meter(protocol, clock, records=4)
    async with meter:
        first, second = MemorySink(), MemorySink()
        await Harness(protocol, clock, first).run(meter)
        await Harness(protocol, clock, second).run(meter)
    assert first.order == second.order


@pytest.mark.parametrize(
    ("faults", "retried"),
    [
        (PtyFaults(corrupt_replies=frozenset({1, 4})), True),
        (PtyFaults(noise_before=frozenset(range(40))), False),
        (PtyFaults(drop_replies=frozenset({2})), True),
        (PtyFaults(reply_delay_s=0.02), False),
        (PtyFaults(slow_replies=frozenset({3}), slow_delay_s=0.5), True),  # > timeout_s
    ],
    ids=["checksum", "noise", "dropped", "slow", "too-slow"],
)
async def test_faults_are_survived(
    protocol: str,
    clock: FakeClock,
    sink: MemorySink,
    faults: PtyFaults,
    retried: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    meter = build_meter(protocol, clock, records=8, faults=faults)
    with caplog.at_level(logging.DEBUG, logger="drivers.serial"):
        async with meter:
            await Harness(protocol, clock, sink).run(meter)
    assert len(sink.readings) == 8
    assert len(sink.cursors) == 1
    failed_attempts = [
        r
        for r in caplog.records
        if r.name.startswith("drivers.serial") and "attempt" in r.getMessage()
    ]
    assert bool(failed_attempts) is retried


async def test_checksum_error_inside_the_memory_transfer(
    protocol: str, clock: FakeClock, sink: MemorySink
) -> None:
    # Ultra 2: reply 3 is the dump (the middle record line is spoiled);
    # Ultra Easy: reply 7 is record 1.
    bad = 3 if protocol == "onetouch-ultra2" else 7
    meter = build_meter(protocol, clock, records=30,
                        faults=PtyFaults(corrupt_replies=frozenset({bad})))
    async with meter:
        await Harness(protocol, clock, sink, options={"batch": 5}).run(meter)
    assert len(sink.readings) == 30
    if isinstance(meter, Ultra2Meter):
        assert [c.name for c in meter.commands].count(ultra2.CMD_DUMP) == 2
        # records before the spoiled line were committed, then came again as duplicates
        assert sum(len(c.readings) for c in sink.commits) > 30
    else:
        from drivers.serial import onetouch_easy as easy

        assert meter.requests.count(easy.ReadRecord(1)) == 2


async def test_retries_used_up_is_a_session_error_with_advice(
    protocol: str, clock: FakeClock, sink: MemorySink
) -> None:
    meter = build_meter(protocol, clock, records=3,
                        faults=PtyFaults(drop_replies=frozenset(range(1000))))
    async with meter:
        with pytest.raises(MeterProtocolError, match="switched off") as caught:
            await Harness(protocol, clock, sink, options={"retries": 1, "timeout_s": 0.1}).run(
                meter
            )
    assert isinstance(caught.value, DeviceSessionError)
    assert sink.readings == {}


async def test_unplug_mid_transfer_commits_nothing_and_next_session_reads_all(
    protocol: str, clock: FakeClock, sink: MemorySink
) -> None:
    # Ultra 2 sends the whole dump as one reply; Ultra Easy ~22 bytes per record.
    cut = 200 + 62 * 70 if protocol == "onetouch-ultra2" else 1500
    meter = build_meter(protocol, clock, records=120,
                        faults=PtyFaults(unplug_after_bytes=cut))
    harness = Harness(protocol, clock, sink, options={"batch": 20})
    await meter.start()
    try:
        with pytest.raises(LinkLostError):
            await harness.run(meter)
        # A dump cut short commits nothing: it is committed oldest first once it has all
        # arrived (issue 10 item 18), and the meter still holds every record.
        assert sink.readings == {}
        assert sink.cursors == {}  # the cursor moves only when a transfer completes

        await meter.stop()
        meter.faults = PtyFaults()
        await meter.start()  # re-plugged: a new tty path
        await harness.run(meter)
    finally:
        await meter.stop()
    assert len(sink.readings) == 120
    assert len(set(_keys(sink))) == 120
    (cursor,) = sink.cursors.values()
    assert cursor == sink.readings[sink.order[-1]].record_key  # the newest, committed last


async def test_empty_memory(protocol: str, clock: FakeClock, sink: MemorySink) -> None:
    meter = build_meter(protocol, clock, records=0)
    async with meter:
        ctx = await Harness(protocol, clock, sink).run(meter)
    assert sink.readings == {}
    assert sink.commits == []
    assert ctx.status.state == "idle"


async def test_full_memory_and_the_oldest_falling_out(
    protocol: str, clock: FakeClock, sink: MemorySink
) -> None:
    meter = build_meter(protocol, clock, records=500)
    harness = Harness(protocol, clock, sink, options={"batch": 100})
    async with meter:
        await harness.run(meter)
        assert len(sink.readings) == 500
        oldest_key = _keys(sink)[-1]
        new_record(meter, NOW_LOCAL.replace(minute=7), 99)
        assert memory_size(meter) == 500
        await harness.run(meter)
    assert len(sink.readings) == 501
    assert len(sink.commits[-1].readings) == 1  # only the new test was read and committed
    assert oldest_key in _keys(sink)  # what fell out of the meter stays in the outbox


async def test_set_clock_after_commit(protocol: str, clock: FakeClock, sink: MemorySink) -> None:
    meter = build_meter(protocol, clock, records=3, drift_s=300.0)
    async with meter:
        await Harness(protocol, clock, sink, options={"set_clock": True}).run(meter)
    assert {r.clock_offset_s for r in sink.readings.values()} == {300.0}
    assert meter.clock.drift_s == 0.0
    assert meter.clock.local_now() == NOW_LOCAL


async def test_clock_left_alone_without_the_option(
    protocol: str, clock: FakeClock, sink: MemorySink
) -> None:
    meter = build_meter(protocol, clock, records=1, drift_s=300.0)
    async with meter:
        await Harness(protocol, clock, sink).run(meter)
    assert meter.clock.drift_s == 300.0


async def test_site_time_zone_option(protocol: str, clock: FakeClock, sink: MemorySink) -> None:
    """A meter set to WIB (UTC+7) in a WITA site: the offset shows it, times stay right."""
    meter = build_meter(protocol, clock, records=1, drift_s=-3600.0)
    async with meter:
        await Harness(protocol, clock, sink, options={"site_tz": "Asia/Jakarta"}).run(meter)
    (reading,) = sink.readings.values()
    # The meter shows WIB wall time (WITA - 1 h); read in WIB its clock is right.
    assert reading.clock_offset_s == 0.0
    assert reading.device_time == "2026-11-27T08:30:00"
    assert reading.measured_at == datetime(2026, 11, 27, 1, 30, tzinfo=UTC)


async def test_hotplug_via_a_by_id_symlink(protocol: str, clock: FakeClock, sink: MemorySink,
                                           tmp_path: Any) -> None:
    by_id = tmp_path / "usb-Prolific_USB-Serial_Controller-if00-port0"
    meter = build_meter(protocol, clock, records=2)
    harness = Harness(protocol, clock, sink)
    runner, ctx = harness.runner(str(by_id))
    with pytest.raises(PortMissingError):  # cable not plugged in yet
        await runner.run_once(ctx)
    await meter.start()
    try:
        os.symlink(meter.path, by_id)
        await runner.run_once(ctx)
        assert len(sink.readings) == 2
        meter.unplug()
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(PortMissingError):
            await runner.run_once(ctx)
        assert loop.time() - start < 0.5
        await meter.stop()
        await meter.start()
        by_id.unlink()
        os.symlink(meter.path, by_id)
        new_record(meter, NOW_LOCAL.replace(minute=9), 120)
        await runner.run_once(ctx)
    finally:
        await meter.stop()
    assert len(sink.readings) == 3


async def test_commit_failure_moves_no_cursor(protocol: str, clock: FakeClock) -> None:
    sink = MemorySink(fail_on_commit=0)
    meter = build_meter(protocol, clock, records=3)
    async with meter:
        with pytest.raises(OSError, match="disk full"):
            await Harness(protocol, clock, sink).run(meter)
    assert sink.readings == {}
    assert sink.cursors == {}


# -- family specifics ---------------------------------------------------------------------


async def test_ultra2_not_ready_meter(clock: FakeClock, sink: MemorySink) -> None:
    meter = build_meter("onetouch-ultra2", clock, records=2, not_ready=True)
    async with meter:
        with pytest.raises(MeterNotReadyError, match="switch it off"):
            await Harness("onetouch-ultra2", clock, sink).run(meter)


async def test_original_ultra_without_meal_fields(clock: FakeClock, sink: MemorySink) -> None:
    records = [ultra2.Record(datetime(2026, 11, 27, 8, 0), "FRI", 99, extended=False)]
    meter = Ultra2Meter(records=records, serial="ZW1234567", clock=DriftingClock(clock))
    async with meter:
        await Harness("onetouch-ultra", clock, sink).run(meter)
    (reading,) = sink.readings.values()
    assert reading.device.model == "OneTouch Ultra"
    assert reading.values == Glucose(99.0, "mg/dL", 99.0, "capillary_whole_blood")


async def test_ultraeasy_count_with_prefix_variant(clock: FakeClock, sink: MemorySink) -> None:
    meter = build_meter("onetouch-ultraeasy", clock, records=5, count_with_prefix=True)
    async with meter:
        await Harness("onetouch-ultraeasy", clock, sink).run(meter)
    assert len(sink.readings) == 5


async def test_ultraeasy_oldest_first_memory_is_read_to_the_end(
    clock: FakeClock, sink: MemorySink
) -> None:
    """If record 0 were the oldest, stopping at the cursor would lose tests: we must not."""
    meter = build_meter("onetouch-ultraeasy", clock, records=5)
    assert isinstance(meter, UltraEasyMeter)
    meter.memory.reverse()
    harness = Harness("onetouch-ultraeasy", clock, sink)
    async with meter:
        await harness.run(meter)
        from drivers.serial import onetouch_easy as easy

        meter.memory.append(easy.Record(NOW_LOCAL.replace(minute=3), 111))  # newest at the end
        await harness.run(meter)
    assert len(sink.readings) == 6
    (cursor,) = sink.cursors.values()
    assert cursor == "JDG1234EZ|2026-11-27T10:03:00|111"


async def test_ultraeasy_refusal_is_not_retried(clock: FakeClock, sink: MemorySink) -> None:
    meter = build_meter("onetouch-ultraeasy", clock, records=3, refuse_records=frozenset({1}))
    assert isinstance(meter, UltraEasyMeter)
    async with meter:
        with pytest.raises(MeterProtocolError, match="refused"):
            await Harness("onetouch-ultraeasy", clock, sink).run(meter)
    from drivers.serial import onetouch_easy as easy

    assert meter.requests.count(easy.ReadRecord(1)) == 1
    assert len(sink.readings) == 0  # the batch was not full yet: nothing committed
