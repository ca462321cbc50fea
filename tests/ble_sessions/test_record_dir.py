"""`gempita run --record DIR`: every live BLE session leaves its own capture, replayable."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from core.devices import DeviceConfig
from drivers.ble.runner import make_runner
from gateway.cli.run import with_ble_recording
from gateway.config import parse_config
from simulators.ble.backend import Air
from simulators.ble.devices import BpMonitor, BpRecord
from simulators.ble.replay import replay_capture
from tests.ble_sessions.helpers import NOW, config_for, context, fixed_clock, local_now
from tests.support.sink import MemorySink


def test_run_record_flag_sets_a_capture_directory_on_ble_devices_only(tmp_path: Path) -> None:
    config = parse_config(
        {
            "devices": [
                {"name": "bp", "transport": "ble", "address": "00:11:22:33:44:55"},
                {"name": "ultra", "transport": "serial", "protocol": "onetouch-ultra2"},
            ]
        }
    )
    recorded = with_ble_recording(config, tmp_path / "captures")
    assert (tmp_path / "captures").is_dir()
    assert recorded.devices[0].options["record"] == str(tmp_path / "captures")
    assert "record" not in recorded.devices[1].options


async def test_each_session_writes_its_own_capture_that_replays_to_the_same_ids(
    air: Air, tmp_path: Path
) -> None:
    monitor = air.add(
        BpMonitor(
            records=[BpRecord(131, 84, 70, local_now() - timedelta(minutes=3))],
            clock=fixed_clock(),
        )
    )
    captures = tmp_path / "captures"
    captures.mkdir()
    config: DeviceConfig = config_for(air, monitor, record=captures)
    live = MemorySink()
    ctx = context(config, live)
    await make_runner(config).run_once(ctx)
    ctx.clock = lambda: NOW + timedelta(minutes=1)
    await make_runner(config).run_once(ctx)
    files = sorted(captures.glob("*.jsonl"))
    assert [f.name for f in files] == [
        f"{config.name}-20261127T050000Z.jsonl",
        f"{config.name}-20261127T050100Z.jsonl",
    ]
    replayed = MemorySink()
    result = await replay_capture(files[0], replayed, gateway_id="gw-test")
    assert set(replayed.readings) == set(live.readings)
    assert result.stored == 1
    assert dataclasses.asdict(next(iter(replayed.readings.values())).values) == dataclasses.asdict(
        next(iter(live.readings.values())).values
    )
