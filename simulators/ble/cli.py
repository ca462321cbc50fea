"""`gempita simulate ble`: run the gateway's BLE sessions against simulated meters, in-process.

A simulated bleak backend lives inside the process that uses it, so this command builds an
`Air` (`demo_air`), points the real BLE runner at it (`demo_device_configs`) and prints each
reading as one JSON line. `--capture-dir` also records every session as a replayable capture.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.clock import DEFAULT_SITE_TZ
from core.devices import DeviceConfig, DeviceContext, DeviceStatus
from core.events import EventBus
from core.reading import Reading
from core.sink import CommitResult, Cursor
from drivers.ble.link import ConnectPolicy
from drivers.ble.session_bp import BpOptions
from drivers.errors import DriverError
from simulators.ble.backend import Air
from simulators.ble.devices import (
    AccuChekMeter,
    AndUa651,
    BeurerBpMonitor,
    BpMonitor,
    CareSensMeter,
    DeviceClock,
    ForaMeter,
    GlucoseFaults,
    GlucoseMeter,
    caresens_records,
    sample_bp_records,
    sample_glucose_records,
)
from simulators.ble.peripheral import GattPeripheral

DEVICES = ("bp", "glucose", "beurer", "and", "caresens", "fora", "accuchek")
ACCU_CHEK_PASSKEY = "123456"


def _now() -> datetime:
    return datetime.now(UTC)


def demo_air(
    *,
    devices: Sequence[str] = ("bp", "glucose"),
    clock: Callable[[], datetime] = _now,
    bp_records: int = 3,
    glucose_records: int = 6,
    drift_s: float = 95.0,
    faults: GlucoseFaults | None = None,
) -> Air:
    """An air with the named simulated meters (default: a BP monitor and a glucose meter).

    Glucose meters' clocks drift by `drift_s`; `faults` applies to the standard glucose meter.
    """
    air = Air()
    local = DeviceClock(clock).local_now()
    for kind in devices:
        device_clock = DeviceClock(clock, drift_s=drift_s)
        peripheral: GattPeripheral
        if kind == "bp":
            peripheral = BpMonitor(records=sample_bp_records(local, bp_records),
                                   cuff_pressures=[20, 60, 110, 150, 120, 90],
                                   clock=DeviceClock(clock))
        elif kind == "glucose":
            peripheral = GlucoseMeter(
                records=sample_glucose_records(device_clock.local_now(), glucose_records),
                clock=device_clock, faults=faults,
            )
        elif kind == "beurer":
            peripheral = BeurerBpMonitor(records=sample_bp_records(local, bp_records))
        elif kind == "and":
            peripheral = AndUa651(records=sample_bp_records(local, bp_records),
                                  clock=DeviceClock(clock, drift_s=drift_s))
        elif kind == "caresens":
            peripheral = CareSensMeter(records=caresens_records(device_clock.local_now()),
                                       clock=device_clock)
        elif kind == "fora":
            peripheral = ForaMeter(
                records=sample_glucose_records(device_clock.local_now(), glucose_records),
                clock=device_clock, memory_full=True,
            )
        elif kind == "accuchek":
            peripheral = AccuChekMeter(
                records=sample_glucose_records(device_clock.local_now(), glucose_records),
                clock=device_clock, passkey=ACCU_CHEK_PASSKEY,
            )
        else:
            raise ValueError(f"unknown simulated device {kind!r}; choose from {DEVICES}")
        air.add(peripheral)
    return air


def demo_device_configs(
    air: Air, *, capture_dir: Path | None = None, site_tz: str | None = None
) -> list[DeviceConfig]:
    """Gateway DeviceConfigs for every meter in `air`, using the simulated backend.

    Without `site_tz` the devices carry no zone of their own: a gateway gives them its
    `gateway.timezone` (`gateway.config.with_site_timezone`).
    """
    configs = []
    for peripheral in air.peripherals:
        options: dict[str, Any] = {
            "backend": air,
            "connect_policy": ConnectPolicy(scan_timeout_s=3.0, attempts=2, backoff_s=0.2),
            "bp": BpOptions(idle_timeout_s=2.0),
        }
        if site_tz is not None:
            options["site_tz"] = site_tz
        if isinstance(peripheral, AccuChekMeter):
            options["passkey"] = ACCU_CHEK_PASSKEY
        name = f"sim-{peripheral.name.lower().replace(' ', '-').replace('+', '-')}"
        if capture_dir is not None:
            options["record"] = capture_dir / f"{name}.jsonl"
        configs.append(
            DeviceConfig(name=name, transport="ble", address=peripheral.address,
                         options=options)
        )
    return configs


class _PrintingSink:
    """Keeps readings and cursors in memory for the demo run; prints each new reading."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.cursors: dict[tuple[str, str], str] = {}

    async def commit(
        self, readings: Sequence[Reading], *, cursor: Cursor | None = None
    ) -> CommitResult:
        stored = 0
        for reading in readings:
            if reading.id in self.ids:
                continue
            self.ids.add(reading.id)
            stored += 1
            print(json.dumps(_reading_json(reading), sort_keys=True))
        if cursor is not None:
            self.cursors[(cursor.device_id, cursor.name)] = cursor.value
        return CommitResult(stored, len(readings) - stored)

    async def get_cursor(self, device_id: str, name: str = "records") -> str | None:
        return self.cursors.get((device_id, name))


def _reading_json(reading: Reading) -> dict[str, Any]:
    values = {k: (sorted(v) if isinstance(v, frozenset) else v)
              for k, v in asdict(reading.values).items()}
    return {
        "id": reading.id,
        "kind": reading.kind.value,
        "device": reading.device.id,
        "record_key": reading.record_key,
        "measured_at": reading.measured_at.isoformat(),
        "time_quality": reading.time_quality.value,
        "device_time": reading.device_time,
        "clock_offset_s": reading.clock_offset_s,
        "values": values,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", action="append", choices=DEVICES, dest="devices",
        help="simulated meter to run (repeatable; default: bp and glucose)",
    )
    parser.add_argument("--bp-records", type=int, default=3, help="stored BP results")
    parser.add_argument("--glucose-records", type=int, default=6, help="stored glucose records")
    parser.add_argument("--drift", type=float, default=95.0,
                        help="glucose meter clock drift in seconds (default 95)")
    parser.add_argument("--sessions", type=int, default=1,
                        help="connect this many times (later sessions show delta sync)")
    parser.add_argument("--capture-dir", type=Path, default=None,
                        help="also record each session as a JSON Lines capture here")
    parser.add_argument("--site-tz", default=DEFAULT_SITE_TZ, help="timezone of device clocks")


async def run(args: argparse.Namespace) -> int:
    """Run the sessions; print readings as JSON lines. Exit code 1 if any session failed."""
    devices = args.devices or ["bp", "glucose"]
    air = demo_air(devices=devices, bp_records=args.bp_records,
                   glucose_records=args.glucose_records, drift_s=args.drift)
    if args.capture_dir is not None:
        await asyncio.to_thread(args.capture_dir.mkdir, parents=True, exist_ok=True)
    sink = _PrintingSink()
    failed = 0
    from drivers.ble.runner import make_runner

    try:
        for session in range(1, max(1, args.sessions) + 1):
            for config in demo_device_configs(air, site_tz=args.site_tz):
                if args.capture_dir is not None:
                    record = args.capture_dir / f"{config.name}-{session}.jsonl"
                    config = replace(config, options={**config.options, "record": record})
                ctx = DeviceContext(
                    config=config, sink=sink,
                    status=DeviceStatus(name=config.name, transport="ble"),
                    events=EventBus(), gateway_id="gw-sim", site_id=None, clock=_now,
                )
                try:
                    await make_runner(config).run_once(ctx)
                except DriverError as exc:
                    failed += 1
                    print(f"# {config.name}: session failed: {exc}")
                else:
                    print(f"# {config.name}: session {session} done, "
                          f"{ctx.status.readings_total} reading(s)")
    finally:
        await air.aclose()
    return 1 if failed else 0

