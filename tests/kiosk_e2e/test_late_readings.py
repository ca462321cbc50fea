"""Issue 10 item 3 end to end: a reading taken before resident B pressed "Siap" but reaching
the gateway after it is never bound to B, whichever of the two arrives first.

The real Gateway hosts the kiosk; the simulated BLE monitor (clock checked by the gateway, so
its readings are SYNCED) is read by the real BLE runner; readings go through the real binder,
outbox and mosquitto to central. The late reading is a record the monitor time-stamped 40 s
before it reached its memory, i.e. a measurement whose transfer came late.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.reading import Kind
from tests.support.mosquitto import Mosquitto

from .helpers import NIK_B, HttpResident, Planned, Stack, after, running_stack
from .test_kiosk_gateway import bp_of, check_bound, text_of

LATE = Planned(158, 99, 88, taken_ago_s=40)  # the previous resident's, transferred late


@pytest.fixture
def stack(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[Stack]:
    with running_stack(tmp_path, mosquitto) as running:
        running.wait_device_synced()
        yield running


def store_late(stack: Stack) -> None:
    stack.loop.call_soon_threadsafe(stack.resident.store, Kind.BLOOD_PRESSURE.value, LATE)


def central_pair(stack: Stack, started: datetime) -> dict[tuple[float, float] | None, Any]:
    def both(rows: list[dict[str, Any]]) -> bool:
        values = {bp_of(r) for r in after(started, rows)}
        return {(158, 99), (126, 83)} <= values

    rows = after(started, stack.wait_central(both))
    return {bp_of(r): r for r in rows}


def test_late_reading_first_is_held_and_b_is_asked_to_measure_again(stack: Stack) -> None:
    started = datetime.now(UTC)
    # b's own measurement takes a few seconds; the late record reaches the monitor at once.
    stack.resident.plan[Kind.BLOOD_PRESSURE].append(Planned(126, 83, 71, after_s=3.0))
    with HttpResident(stack.url, NIK_B, "2000") as b:
        b.identify_and_choose(Kind.BLOOD_PRESSURE)
        b.ready()
        store_late(stack)
        b.wait_asked_again()
        assert b.status() == "waiting"
        screen = b.client.get("/ukur").text
        assert "Silakan ukur sekali lagi" in screen and "158/99" not in screen
        page = b.wait_result()
        body = text_of(page)
        assert "126/83 mmHg" in body and "158/99" not in body, body
        b.finish()
    rows = central_pair(stack, started)
    late, own = rows[(158, 99)], rows[(126, 83)]
    assert late["bound"] is False and late["subject"] is None, late
    check_bound(stack, own, NIK_B)


def test_late_reading_after_bs_own_is_left_unbound(stack: Stack) -> None:
    started = datetime.now(UTC)
    stack.resident.plan[Kind.BLOOD_PRESSURE].append(Planned(126, 83, 71, after_s=1.0))
    with HttpResident(stack.url, NIK_B, "2000") as b:
        b.identify_and_choose(Kind.BLOOD_PRESSURE)
        b.ready()
        page = b.wait_result()
        assert "126/83 mmHg" in text_of(page)
        store_late(stack)
        deadline = time.monotonic() + 15
        while not any(bp_of(r) == (158, 99) for r in after(started, stack.central_readings())):
            assert time.monotonic() < deadline, "the late reading never reached central"
            time.sleep(0.1)
        # b's result stays b's own; the late one went to nobody.
        body = text_of(b.client.get("/hasil").text)
        assert "126/83 mmHg" in body and "158/99" not in body, body
        b.finish()
    rows = central_pair(stack, started)
    assert rows[(158, 99)]["bound"] is False and rows[(158, 99)]["subject"] is None
    check_bound(stack, rows[(126, 83)], NIK_B)
