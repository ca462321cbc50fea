"""`gempita simulate ble` entry points (add_arguments/run) and the demo air."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import pytest

from drivers.ble.capture import read_capture
from simulators.ble import cli
from simulators.ble.devices import BpMonitor, GlucoseMeter


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


async def test_demo_air_has_bp_monitor_and_glucose_meter() -> None:
    air = cli.demo_air()
    try:
        kinds = sorted(type(p).__name__ for p in air.peripherals)
        assert kinds == ["BpMonitor", "GlucoseMeter"]
        configs = cli.demo_device_configs(air)
        assert [c.options["backend"] for c in configs] == [air, air]
        assert {c.address for c in configs} == {p.address for p in air.peripherals}
    finally:
        await air.aclose()


async def test_run_prints_readings_and_records_captures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await cli.run(
        _args(
            "--device",
            "bp",
            "--device",
            "glucose",
            "--glucose-records",
            "4",
            "--sessions",
            "2",
            "--capture-dir",
            str(tmp_path),
        )
    )
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    readings = [json.loads(line) for line in out if line.startswith("{")]
    # 3 BP results + 4 glucose records, each printed once over two sessions
    assert sorted(r["kind"] for r in readings) == ["blood_pressure"] * 3 + ["glucose"] * 4
    assert len({r["id"] for r in readings}) == 7
    captures = sorted(p.name for p in tmp_path.iterdir())
    assert len(captures) == 4
    for path in tmp_path.iterdir():
        assert (await asyncio.to_thread(read_capture, path)).events


def test_unknown_device_rejected_by_parser() -> None:
    with pytest.raises(SystemExit):
        _args("--device", "toaster")


def test_demo_air_device_types() -> None:
    air = cli.demo_air(devices=["bp", "glucose"])
    assert isinstance(air.peripherals[0], BpMonitor)
    assert isinstance(air.peripherals[1], GlucoseMeter)
