"""Capture replay: the recorded device answers the real session; and the recorder itself."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.reading import BloodPressure, Glucose, TimeQuality
from drivers.ble.capture import read_capture
from drivers.ble.link import LinkLostError
from drivers.ble.runner import make_runner
from drivers.errors import DecodeError
from simulators.ble.backend import Air
from simulators.ble.devices import GlucoseMeter, glucose_record
from simulators.ble.replay import replay_capture
from tests.ble_sessions.helpers import config_for, context, fixed_clock, local_now
from tests.support.sink import MemorySink

CAPTURES = Path(__file__).parent / "captures"
CONTOUR = "ascensia-diabetes-care:7830H5001234"


async def test_replay_bp_capture() -> None:
    sink = MemorySink()
    result = await replay_capture(CAPTURES / "bp_standard.jsonl", sink)
    assert [r.values for r in result.readings] == [
        BloodPressure(131.0, 84.0, 100.0, 72.0, "mmHg", frozenset(), None),
        BloodPressure(150.0, 95.0, 113.0, 81.0, "mmHg", frozenset({"body_movement"}), None),
    ]
    # 12:58 and 12:59 WITA
    assert [r.measured_at for r in result.readings] == [
        datetime(2026, 11, 27, 4, 58, tzinfo=UTC),
        datetime(2026, 11, 27, 4, 59, tzinfo=UTC),
    ]
    assert result.stored == 2
    assert {r.device.id for r in result.readings} == {"omron-healthcare:20240501001"}


async def test_replay_glucose_capture_measures_recorded_clock_offset() -> None:
    sink = MemorySink()
    result = await replay_capture(CAPTURES / "glucose_standard.jsonl", sink)
    assert [(r.record_key, r.values) for r in result.readings] == [
        ("11", Glucose(104.0, "mg/dL", 104.0, "capillary_whole_blood", "finger", "preprandial")),
        ("12", Glucose(187.0, "mg/dL", 187.0, "capillary_whole_blood", "finger", None)),
    ]
    # The meter showed 12:55 at 13:00 WITA: five minutes slow, corrected.
    assert [r.measured_at for r in result.readings] == [
        datetime(2026, 11, 27, 1, 5, tzinfo=UTC),
        datetime(2026, 11, 27, 4, 5, tzinfo=UTC),
    ]
    assert {r.time_quality for r in result.readings} == {TimeQuality.DEVICE_CLOCK}
    assert {r.clock_offset_s for r in result.readings} == {-300.0}
    assert sink.cursors == {(CONTOUR, "racp_seq"): "12"}


async def test_replaying_twice_gives_same_ids() -> None:
    sink = MemorySink()
    first = await replay_capture(CAPTURES / "glucose_standard.jsonl", sink)
    second = await replay_capture(CAPTURES / "glucose_standard.jsonl", MemorySink())
    assert [r.id for r in first.readings] == [r.id for r in second.readings]


async def test_replay_link_lost_mid_transfer_commits_nothing() -> None:
    sink = MemorySink()
    sink.cursors[(CONTOUR, "racp_seq")] = "12"
    with pytest.raises(LinkLostError):
        await replay_capture(CAPTURES / "glucose_link_lost.jsonl", sink)
    assert sink.commits == []
    assert sink.cursors == {(CONTOUR, "racp_seq"): "12"}


async def test_recorder_then_replay_round_trip(air: Air, tmp_path: Path) -> None:
    now = local_now()
    meter = air.add(
        GlucoseMeter(
            records=[glucose_record(1, now.replace(hour=8), 90.0, meal=3)],
            clock=fixed_clock(30),
        )
    )
    capture = tmp_path / "live.jsonl"
    config = config_for(air, meter, record=capture)
    live = MemorySink()
    await make_runner(config).run_once(context(config, live))

    parsed = await asyncio.to_thread(read_capture, capture)
    assert parsed.header.dis["2a25"] == "7830H5001234"
    assert [e.op for e in parsed.events if e.char == "2a52"] == [
        "write",
        "indicate",
        "write",
        "indicate",
    ]
    replayed = MemorySink()
    result = await replay_capture(capture, replayed)
    assert set(replayed.readings) == set(live.readings)
    assert [r.measured_at for r in result.readings] == [
        r.measured_at for r in live.readings.values()
    ]


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(x) if not isinstance(x, str) else x for x in lines))
    return path


def test_capture_with_bad_json_is_decode_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.jsonl", [{"address": "AA", "services": []}, "{nope"])
    with pytest.raises(DecodeError, match="line 2"):
        read_capture(path)


def test_capture_with_unknown_op_is_decode_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "c.jsonl",
        [{"address": "AA", "services": []}, {"t": 0, "op": "teleport", "char": "2a35"}],
    )
    with pytest.raises(DecodeError, match="unknown op"):
        read_capture(path)


def test_capture_without_device_line_is_decode_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.jsonl", [{"t": 0, "op": "notify", "char": "2a35", "hex": "00"}])
    with pytest.raises(DecodeError, match="describe the device"):
        read_capture(path)


def test_capture_with_bad_hex_is_decode_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "c.jsonl",
        [{"address": "AA", "services": []}, {"t": 0, "op": "notify", "char": "2a35", "hex": "zz"}],
    )
    with pytest.raises(DecodeError, match="bad event"):
        read_capture(path)
