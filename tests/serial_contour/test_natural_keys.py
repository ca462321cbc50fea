"""Issue 10 item 17: two tests in the same minute with the same value but different markers are
two records, through each meter's session over a pty. The key must hold every field that tells
two records apart."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.reading import Glucose
from drivers.serial import contour, taidoc
from drivers.serial import onetouch_ultra2 as ultra2
from simulators.serial.contour import ContourMeter
from simulators.serial.meter_clock import DriftingClock
from simulators.serial.onetouch_ultra2 import Ultra2Meter
from simulators.serial.taidoc import StoredRecord, TaiDocMeter
from tests.serial_contour.support import NOW, run_session
from tests.support.sink import MemorySink

LOCAL = datetime(2026, 11, 27, 13, 40)  # 20 minutes before NOW, meter-local


def _meals(sink: MemorySink) -> list[str | None]:
    meals = []
    for reading in sink.readings.values():
        assert isinstance(reading.values, Glucose)
        meals.append(reading.values.meal)
    return sorted(meals, key=str)


async def test_contour_before_and_after_meal_in_one_minute_are_two_records() -> None:
    results = [
        contour.ResultRecord(i + 1, "Glucose", "120", contour.MGDL, "P", (marker,), LOCAL)
        for i, marker in enumerate(("B", "A"))
    ]
    meter = ContourMeter(results, clock=lambda: NOW)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "contour", sink)
    assert _meals(sink) == ["postprandial", "preprandial"]
    keys = sorted(r.record_key for r in sink.readings.values())
    assert keys == ["7150-1234567|2026-11-27T13:40:00|120 mg/dL A",
                    "7150-1234567|2026-11-27T13:40:00|120 mg/dL B"]


async def test_ultra2_meal_and_comment_are_part_of_the_key() -> None:
    records = [
        ultra2.Record(LOCAL, "FRI", 120, meal=meal, comment=comment)
        for meal, comment in (("preprandial", 0), ("postprandial", 0), ("postprandial", 3))
    ]
    meter = Ultra2Meter(records=records, clock=DriftingClock(lambda: NOW))
    sink = MemorySink()
    async with meter:
        await run_session(meter, "onetouch-ultra2", sink)
    assert len(sink.readings) == 3
    assert _meals(sink) == ["postprandial", "postprandial", "preprandial"]


async def test_taidoc_meal_flag_is_part_of_the_key() -> None:
    records = [
        StoredRecord(LOCAL, taidoc.GlucoseValue(120, meal, 0, byte))
        for meal, byte in (("preprandial", 0x40), ("postprandial", 0x80))
    ]
    meter = TaiDocMeter(records, clock=lambda: NOW)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "taidoc", sink)
    assert _meals(sink) == ["postprandial", "preprandial"]


async def test_taidoc_bp_extra_byte_is_part_of_the_key() -> None:
    records = [
        StoredRecord(LOCAL - timedelta(minutes=1), taidoc.BpValue(130, 85, 72, extra))
        for extra in (0x00, 0x01)
    ]
    meter = TaiDocMeter(records, clock=lambda: NOW)
    sink = MemorySink()
    async with meter:
        await run_session(meter, "taidoc-bp", sink)
    assert len(sink.readings) == 2
