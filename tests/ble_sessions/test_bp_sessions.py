"""BP sessions through the real bleak.BleakClient against simulated monitors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.events import CuffPressure, EventBus, ReadingStored
from core.reading import BloodPressure, Kind, TimeQuality
from drivers.ble.bp import PressureUnit
from drivers.ble.runner import make_runner
from drivers.errors import DeviceSessionError
from simulators.ble.backend import Air
from simulators.ble.devices import AndUa651, BeurerBpMonitor, BpMonitor, BpRecord
from tests.ble_sessions.helpers import (
    NOW,
    config_for,
    context,
    fixed_clock,
    local_now,
)
from tests.support.sink import MemorySink


def _records() -> list[BpRecord]:
    now = local_now()
    return [
        BpRecord(128, 82, 71, now - timedelta(hours=2), status=0),
        BpRecord(142, 91, 77, now - timedelta(minutes=1), status=0x0004),
    ]


def _values(sink: MemorySink) -> list[BloodPressure]:
    ordered = sorted(sink.readings.values(), key=lambda r: r.measured_at)
    return [r.values for r in ordered if isinstance(r.values, BloodPressure)]


async def test_standard_monitor_all_results_until_it_disconnects(
    air: Air, sink: MemorySink
) -> None:
    monitor = air.add(BpMonitor(records=_records(), clock=fixed_clock()))
    config = config_for(air, monitor)
    ctx = context(config, sink)
    await make_runner(config).run_once(ctx)

    assert _values(sink) == [
        BloodPressure(128.0, 82.0, 97.0, 71.0, "mmHg", frozenset(), None),
        BloodPressure(142.0, 91.0, 108.0, 77.0, "mmHg", frozenset({"irregular_pulse"}), None),
    ]
    readings = sorted(sink.readings.values(), key=lambda r: r.measured_at)
    assert [r.measured_at for r in readings] == [
        datetime(2026, 11, 27, 3, 0, tzinfo=UTC),
        datetime(2026, 11, 27, 4, 59, tzinfo=UTC),
    ]
    assert {r.time_quality for r in readings} == {TimeQuality.DEVICE_CLOCK}
    assert all(r.kind is Kind.BLOOD_PRESSURE and r.record_key is None for r in readings)
    assert readings[0].device.serial == "20240501001"
    assert readings[0].device_time == "2026-11-27T11:00:00"
    assert ctx.status.readings_total == 2
    assert ctx.status.state == "idle"


async def test_same_memory_twice_gives_same_ids(air: Air, sink: MemorySink) -> None:
    monitor = air.add(BpMonitor(clock=fixed_clock(), records=_records()))
    config = config_for(air, monitor)
    await make_runner(config).run_once(context(config, sink))
    first = set(sink.readings)
    await make_runner(config).run_once(context(config, sink))
    assert set(sink.readings) == first
    assert len(sink.commits) == 2
    assert {r.id for r in sink.commits[1].readings} == first


async def test_kpa_monitor_converted_to_mmhg(air: Air, sink: MemorySink) -> None:
    monitor = air.add(BpMonitor(clock=fixed_clock(), records=_records()[:1], unit=PressureUnit.KPA))
    config = config_for(air, monitor)
    await make_runner(config).run_once(context(config, sink))
    # 128 mmHg -> 17.1 kPa on air -> 128.3 mmHg; 82 -> 10.9 -> 81.8; MAP 97 -> 12.9 -> 96.8
    assert _values(sink) == [BloodPressure(128.3, 81.8, 96.8, 71.0, "kPa", frozenset(), None)]


async def test_cuff_pressure_published_as_events(air: Air, sink: MemorySink) -> None:
    monitor = air.add(
        BpMonitor(clock=fixed_clock(), records=_records()[1:], cuff_pressures=[20, 80, 150, 90])
    )
    config = config_for(air, monitor)
    events = EventBus()
    async with events.subscribe() as queue:
        await make_runner(config).run_once(context(config, sink, events))
        seen = []
        while not queue.empty():
            seen.append(queue.get_nowait())
    assert [e.mmhg for e in seen if isinstance(e, CuffPressure)] == [20.0, 80.0, 150.0, 90.0]
    # "Stored" is announced by the gateway's DeviceSink after the commit, never by a session.
    assert not any(isinstance(e, ReadingStored) for e in seen)


async def test_monitor_that_never_disconnects_ends_on_idle(air: Air, sink: MemorySink) -> None:
    monitor = air.add(BpMonitor(clock=fixed_clock(), records=_records(), disconnect_after_s=30.0))
    config = config_for(air, monitor)
    await make_runner(config).run_once(context(config, sink))
    assert len(sink.readings) == 2
    assert not monitor.connected


async def test_empty_memory_commits_nothing(air: Air, sink: MemorySink) -> None:
    monitor = air.add(BpMonitor(clock=fixed_clock(), records=[]))
    config = config_for(air, monitor)
    await make_runner(config).run_once(context(config, sink))
    assert sink.commits == []


async def test_beurer_needs_settle_delay_and_big_endian_decoder(air: Air, sink: MemorySink) -> None:
    monitor = air.add(BeurerBpMonitor(clock=fixed_clock(), records=_records()))
    config = config_for(air, monitor)
    await make_runner(config).run_once(context(config, sink))
    values = _values(sink)
    assert [(v.systolic_mmhg, v.pulse_bpm, v.user_id) for v in values] == [
        (128.0, 71.0, 1),
        (142.0, 77.0, 1),
    ]
    assert values[1].status == frozenset({"irregular_pulse"})


async def test_beurer_without_quirk_stays_silent(air: Air, sink: MemorySink) -> None:
    # Forcing another family removes the settle delay: the BM85 then sends nothing.
    monitor = air.add(BeurerBpMonitor(clock=fixed_clock(), records=_records()))
    config = config_for(air, monitor, quirk="ascensia_contour", kind="blood_pressure")
    await make_runner(config).run_once(context(config, sink))
    assert sink.readings == {}


async def test_and_ua651_bonds_sends_all_writes_clock_and_measures_offset(
    air: Air, sink: MemorySink
) -> None:
    # The monitor's clock runs 10 minutes fast; its stored results carry that clock.
    clock = fixed_clock(600)
    fast_local = local_now() + timedelta(minutes=10)
    records = [BpRecord(135, 88, 80, fast_local - timedelta(minutes=3))]
    monitor = air.add(AndUa651(records=records, clock=clock))
    config = config_for(air, monitor)
    await make_runner(config).run_once(context(config, sink))

    assert monitor.bonded and monitor.send_all_requested
    assert monitor.clock_writes[-1].to_datetime() == local_now()
    (reading,) = sink.readings.values()
    assert reading.measured_at == NOW - timedelta(minutes=3)
    assert reading.clock_offset_s == 600.0
    assert reading.time_quality is TimeQuality.DEVICE_CLOCK
    assert reading.device.model == "UA-651BLE"
    # "Send all" makes it resend its memory; the stable id makes the re-send a duplicate
    # even though its clock (and so the corrected time) changed in between.
    await make_runner(config).run_once(context(config, sink))
    assert [r.id for r in sink.commits[1].readings] == [reading.id]
    assert sink.readings == {reading.id: reading}


async def test_monitor_with_year_zero_falls_back_to_receive_time(
    air: Air, sink: MemorySink
) -> None:
    records = [
        BpRecord(120, 80, 60, datetime(2000, 1, 1, 0, 0)),
        BpRecord(130, 85, 66, None),
    ]
    monitor = air.add(BpMonitor(clock=fixed_clock(), records=records))
    config = config_for(air, monitor)
    await make_runner(config).run_once(context(config, sink))
    by_sys = {
        r.values.systolic_mmhg: r
        for r in sink.readings.values()
        if isinstance(r.values, BloodPressure)
    }
    assert by_sys[120.0].time_quality is TimeQuality.UNKNOWN  # stored, implausible
    assert by_sys[130.0].time_quality is TimeQuality.GATEWAY_RECEIVE  # newest, no stamp
    assert by_sys[130.0].measured_at == NOW


async def test_device_not_advertising_fails_fast(air: Air, sink: MemorySink) -> None:
    monitor = BpMonitor(clock=fixed_clock(), records=_records())
    monitor.advertising = False
    air.add(monitor)
    config = config_for(air, monitor)
    ctx = context(config, sink)
    with pytest.raises(DeviceSessionError, match="not advertising"):
        await make_runner(config).run_once(ctx)
    assert ctx.status.state == "error"


async def test_commit_failure_propagates(air: Air, sink: MemorySink) -> None:
    monitor = air.add(BpMonitor(clock=fixed_clock(), records=_records()))
    config = config_for(air, monitor)
    sink.fail_next_commit()
    with pytest.raises(OSError, match="disk full"):
        await make_runner(config).run_once(context(config, sink))
    assert sink.readings == {}


async def test_battery_level_is_reported_in_device_status(air: Air, sink: MemorySink) -> None:
    monitor = air.add(BpMonitor(records=_records(), clock=fixed_clock(), battery_pct=37))
    config = config_for(air, monitor)
    ctx = context(config, sink)
    await make_runner(config).run_once(ctx)
    assert ctx.status.battery_pct == 37
    assert ctx.status.as_dict()["battery_pct"] == 37


async def test_no_battery_service_leaves_battery_unknown(air: Air, sink: MemorySink) -> None:
    monitor = air.add(BpMonitor(records=_records(), clock=fixed_clock()))
    config = config_for(air, monitor)
    ctx = context(config, sink)
    await make_runner(config).run_once(ctx)
    assert ctx.status.battery_pct is None
