"""Glucose sessions (bond, CTS, RACP delta sync) through the real bleak.BleakClient."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from core.reading import Glucose, Kind, TimeQuality, reading_id
from drivers.ble.link import AttError, LinkLostError
from drivers.ble.racp import Opcode, Operator
from drivers.ble.runner import make_runner
from drivers.errors import DeviceSessionError, UsageError
from simulators.ble.backend import Air
from simulators.ble.devices import (
    AccuChekMeter,
    CareSensMeter,
    ForaMeter,
    GlucoseFaults,
    GlucoseMeter,
    caresens_records,
    glucose_record,
)
from tests.ble_sessions.helpers import (
    NOW,
    config_for,
    context,
    fixed_clock,
    local_now,
)
from tests.support.sink import MemorySink

DEVICE_ID = "ascensia-diabetes-care:7830H5001234"


def _memory() -> list:  # type: ignore[type-arg]
    now = local_now()
    return [
        glucose_record(1, now - timedelta(hours=30), 96.0, meal=3),
        glucose_record(2, now - timedelta(hours=20), 142.0, meal=2),
        glucose_record(3, now - timedelta(hours=10), 120.0, control_solution=True),
        glucose_record(4, now - timedelta(hours=5), None, hi=True),
        glucose_record(5, now - timedelta(hours=2), None, lo=True),
        glucose_record(6, now - timedelta(hours=1), 5.5 * 18.016, mmol=True, meal=4),
    ]


def _by_key(sink: MemorySink) -> dict[str, Glucose]:
    return {
        r.record_key or "": r.values
        for r in sink.readings.values()
        if isinstance(r.values, Glucose)
    }


async def _run(air: Air, meter: GlucoseMeter, sink: MemorySink, **kw: object) -> None:
    config = config_for(air, meter, **kw)  # type: ignore[arg-type]
    await make_runner(config).run_once(context(config, sink))


async def test_standard_meter_full_transfer(air: Air, sink: MemorySink) -> None:
    meter = air.add(GlucoseMeter(records=_memory(), clock=fixed_clock()))
    await _run(air, meter, sink)

    assert meter.bonded
    assert _by_key(sink) == {
        "1": Glucose(96.0, "mg/dL", 96.0, "capillary_whole_blood", "finger", "fasting"),
        "2": Glucose(142.0, "mg/dL", 142.0, "capillary_whole_blood", "finger", "postprandial"),
        "4": Glucose(
            None,
            "mg/dL",
            None,
            "capillary_whole_blood",
            "finger",
            None,
            hi=True,
            sensor_status=frozenset({"result_too_high"}),
        ),
        "5": Glucose(
            None,
            "mg/dL",
            None,
            "capillary_whole_blood",
            "finger",
            None,
            lo=True,
            sensor_status=frozenset({"result_too_low"}),
        ),
        "6": Glucose(99.1, "mmol/L", 5.5, "capillary_whole_blood", "finger", "casual"),
    }
    # record 3 was control solution: not a reading, but the cursor passes it.
    assert sink.cursors == {(DEVICE_ID, "racp_seq"): "6"}
    reading = next(r for r in sink.readings.values() if r.record_key == "1")
    assert reading.kind is Kind.GLUCOSE
    assert reading.measured_at == NOW - timedelta(hours=30)
    assert reading.time_quality is TimeQuality.SYNCED
    assert reading.clock_offset_s == 0.0
    assert reading.id == reading_id(reading.device, "1")
    assert [u[4:8] for u in meter.subscription_log] == ["2a18", "2a34", "2a52"]
    # RACP order: count, then report, both "all" without a cursor
    assert [(r.opcode, r.operator) for r in meter.racp_requests] == [
        (Opcode.REPORT_NUMBER_OF_STORED_RECORDS, Operator.ALL_RECORDS),
        (Opcode.REPORT_STORED_RECORDS, Operator.ALL_RECORDS),
    ]


async def test_delta_sync_asks_from_cursor_plus_one(air: Air, sink: MemorySink) -> None:
    meter = air.add(GlucoseMeter(clock=fixed_clock(), records=_memory()))
    await _run(air, meter, sink)
    meter.records.append(glucose_record(7, local_now() - timedelta(minutes=5), 180.0))
    meter.racp_requests.clear()
    await _run(air, meter, sink)

    assert [r.values for r in meter.racp_requests] == [(7,), (7,)]
    assert [r.record_key for r in sink.commits[-1].readings] == ["7"]
    assert sink.cursors[(DEVICE_ID, "racp_seq")] == "7"
    # and nothing new: count says 0, no report, no commit
    commits = len(sink.commits)
    meter.racp_requests.clear()
    await _run(air, meter, sink)
    assert [r.opcode for r in meter.racp_requests] == [Opcode.REPORT_NUMBER_OF_STORED_RECORDS]
    assert len(sink.commits) == commits


async def test_drifting_clock_is_corrected(air: Air, sink: MemorySink) -> None:
    # The meter's clock runs 7 minutes slow; its records carry that slow clock.
    slow = local_now() - timedelta(minutes=7)
    records = [glucose_record(1, slow - timedelta(hours=1), 110.0)]
    meter = air.add(GlucoseMeter(records=records, clock=fixed_clock(-420)))
    await _run(air, meter, sink)
    (reading,) = sink.readings.values()
    assert reading.clock_offset_s == -420.0
    assert reading.measured_at == NOW - timedelta(hours=1)
    assert reading.time_quality is TimeQuality.DEVICE_CLOCK
    assert reading.device_time == (slow - timedelta(hours=1)).isoformat()


async def test_link_lost_mid_racp_commits_nothing_and_rereads(air: Air, sink: MemorySink) -> None:
    meter = air.add(
        GlucoseMeter(
            clock=fixed_clock(), records=_memory(), faults=GlucoseFaults(disconnect_after_records=3)
        )
    )
    config = config_for(air, meter)
    with pytest.raises(LinkLostError):
        await make_runner(config).run_once(context(config, sink))
    assert sink.commits == [] and sink.cursors == {}
    meter.faults.disconnect_after_records = None
    await make_runner(config).run_once(context(config, sink))
    assert sorted(_by_key(sink)) == ["1", "2", "4", "5", "6"]
    assert sink.cursors[(DEVICE_ID, "racp_seq")] == "6"


async def test_cursor_advances_only_with_commit(air: Air, sink: MemorySink) -> None:
    meter = air.add(GlucoseMeter(clock=fixed_clock(), records=_memory()))
    config = config_for(air, meter)
    sink.fail_next_commit()
    with pytest.raises(OSError, match="disk full"):
        await make_runner(config).run_once(context(config, sink))
    assert sink.cursors == {}
    meter.racp_requests.clear()
    await make_runner(config).run_once(context(config, sink))
    assert meter.racp_requests[-1].operator == Operator.ALL_RECORDS
    assert len(sink.readings) == 5


async def test_slow_meter_still_completes(air: Air, sink: MemorySink) -> None:
    meter = air.add(
        GlucoseMeter(
            clock=fixed_clock(), records=_memory()[:3], faults=GlucoseFaults(response_delay_s=0.05)
        )
    )
    await _run(air, meter, sink)
    assert sorted(_by_key(sink)) == ["1", "2"]


async def test_duplicate_records_are_ignored(air: Air, sink: MemorySink) -> None:
    meter = air.add(
        GlucoseMeter(
            clock=fixed_clock(), records=_memory(), faults=GlucoseFaults(duplicate_records=True)
        )
    )
    await _run(air, meter, sink)
    assert len(sink.commits) == 1
    assert [r.record_key for r in sink.commits[0].readings] == ["1", "2", "4", "5", "6"]
    assert sink.cursors[(DEVICE_ID, "racp_seq")] == "6"


async def test_garbage_frame_keeps_cursor_but_commits_good_records(
    air: Air, sink: MemorySink
) -> None:
    meter = air.add(
        GlucoseMeter(
            clock=fixed_clock(), records=_memory(), faults=GlucoseFaults(garbage_before_sequence=2)
        )
    )
    await _run(air, meter, sink)
    assert sorted(_by_key(sink)) == ["1", "2", "4", "5", "6"]
    assert sink.cursors == {}  # a hole might hide a lost record: ask again next time


async def test_busy_meter_refusal_is_retried(air: Air, sink: MemorySink) -> None:
    meter = air.add(
        GlucoseMeter(
            clock=fixed_clock(), records=_memory()[:2], faults=GlucoseFaults(busy_after_op_s=0.03)
        )
    )
    await _run(air, meter, sink)
    assert meter.refused_ops >= 1
    assert sorted(_by_key(sink)) == ["1", "2"]


async def test_busy_meter_that_never_frees_fails_with_att_0x80(air: Air, sink: MemorySink) -> None:
    meter = air.add(
        GlucoseMeter(
            clock=fixed_clock(), records=_memory()[:2], faults=GlucoseFaults(busy_after_op_s=60)
        )
    )
    config = config_for(air, meter)
    with pytest.raises(AttError) as caught:
        await make_runner(config).run_once(context(config, sink))
    assert caught.value.code == 0x80
    assert sink.commits == []


async def test_caresens_vendor_clock_ketone_and_month_13(air: Air, sink: MemorySink) -> None:
    meter = air.add(CareSensMeter(records=caresens_records(local_now()), clock=fixed_clock(120)))
    await _run(air, meter, sink)
    assert meter.time_writes == [bytes.fromhex("c0030100") + bytes(7)]
    keys = {r.record_key or "": r for r in sink.readings.values()}
    assert sorted(keys) == ["1", "3"]  # 2 was a ketone record
    assert keys["1"].clock_offset_s == 120.0
    assert keys["1"].time_quality is TimeQuality.SYNCED
    assert keys["1"].measured_at == NOW - timedelta(hours=5, minutes=2)
    # month 13 read as January of the next year: in the future, so not trusted
    assert keys["3"].time_quality is TimeQuality.UNKNOWN
    assert keys["3"].measured_at == NOW


async def test_fora_fetches_all_and_drops_2037_placeholder(air: Air, sink: MemorySink) -> None:
    memory = _memory()[:2]
    meter = air.add(ForaMeter(clock=fixed_clock(), records=memory, memory_full=True))
    await _run(air, meter, sink)
    assert sorted(v.glucose_mgdl or 0.0 for v in _by_key(sink).values()) == [96.0, 142.0]
    device = next(iter(sink.readings.values())).device
    assert device.manufacturer is None and device.model is None
    assert sink.cursors == {}
    # no delta sync: the second session asks for everything again, ids unchanged
    meter.racp_requests.clear()
    before = set(sink.readings)
    await _run(air, meter, sink)
    assert meter.racp_requests[-1].operator == Operator.ALL_RECORDS
    assert set(sink.readings) == before


async def test_accu_chek_needs_passkey(air: Air, sink: MemorySink) -> None:
    meter = air.add(AccuChekMeter(clock=fixed_clock(), records=_memory()[:2]))
    config = config_for(air, meter)
    with pytest.raises(DeviceSessionError, match="bonding failed"):
        await make_runner(config).run_once(context(config, sink))
    bonded_without_passkey = meter.bonded
    assert not bonded_without_passkey
    await _run(air, meter, sink, passkey="123456")
    assert meter.bonded
    assert sorted(_by_key(sink)) == ["1", "2"]
    assert next(iter(sink.readings.values())).device.id == "roche:92412345"


async def test_unbonded_subscription_is_refused_by_meter(air: Air) -> None:
    from bleak import BleakClient
    from bleak.exc import BleakGATTProtocolError

    meter = air.add(AccuChekMeter(clock=fixed_clock()))
    async with BleakClient(meter.address, backend=air.client_backend()) as client:
        with pytest.raises(BleakGATTProtocolError) as caught:
            await client.start_notify("2a18", lambda _c, _d: None)
    assert caught.value.code == 0x05


async def test_passkey_with_real_bluez_backend_is_refused() -> None:
    from bleak.backends.client import BaseBleakClient

    from drivers.ble.pair import backend_takes_passkey

    assert not backend_takes_passkey(BaseBleakClient)
    assert not backend_takes_passkey(None)


async def test_unknown_quirk_name_is_usage_error(air: Air) -> None:
    meter = air.add(GlucoseMeter(clock=fixed_clock()))
    with pytest.raises(UsageError, match="known quirks"):
        make_runner(config_for(air, meter, quirk="nope"))


async def test_record_time_offset_applied(air: Air, sink: MemorySink) -> None:
    taken = local_now() - timedelta(hours=3)
    records = [glucose_record(1, taken, 101.0, time_offset_minutes=-30)]
    meter = air.add(GlucoseMeter(clock=fixed_clock(), records=records))
    await _run(air, meter, sink)
    (reading,) = sink.readings.values()
    assert reading.measured_at == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


async def test_meter_refuses_second_racp_op_while_busy(air: Air) -> None:
    from bleak import BleakClient
    from bleak.exc import BleakGATTProtocolError

    meter = air.add(
        GlucoseMeter(
            clock=fixed_clock(), records=_memory(), faults=GlucoseFaults(response_delay_s=0.05)
        )
    )
    answers: list[bytes] = []
    async with BleakClient(meter.address, backend=air.client_backend()) as client:
        await client.pair()
        await client.start_notify("2a18", lambda _c, _d: None)
        await client.start_notify("2a52", lambda _c, data: answers.append(bytes(data)))
        await client.write_gatt_char("2a52", b"\x01\x01", response=True)
        with pytest.raises(BleakGATTProtocolError) as caught:
            await client.write_gatt_char("2a52", b"\x04\x01", response=True)
        assert caught.value.code == 0x80
        # Abort is the one op allowed during a procedure.
        await client.write_gatt_char("2a52", b"\x03\x00", response=True)
        async with asyncio.timeout(2):
            while not answers:
                await asyncio.sleep(0.01)
    assert answers == [bytes.fromhex("06000301")]


async def test_client_backend_class_alone_is_enough(air: Air, sink: MemorySink) -> None:
    meter = air.add(GlucoseMeter(clock=fixed_clock(), records=_memory()[:1]))
    config = config_for(air, meter, backend=air.client_backend())
    await make_runner(config).run_once(context(config, sink))
    assert sorted(_by_key(sink)) == ["1"]
