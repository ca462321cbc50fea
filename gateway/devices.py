"""Device configuration, per-device status and the runner contract for drivers.

A driver package provides a *runner factory* `make_runner(config) -> DeviceRunner`. The
gateway's supervisor calls `runner.run_once(ctx)` for one connection session (connect, read
what is new, commit through `ctx.sink`, return) and owns retries: a runner never loops on
failure itself, it raises and the supervisor backs off. Factories are looked up lazily by
transport so that `gempita run` does not import bleak or pyserial unless a device needs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from gateway.events import EventBus
from gateway.sink import ReadingSink


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    name: str  # operator's name for the device, unique per gateway ("bp-kiosk-1")
    transport: str  # "ble", "serial" or "simulated"
    kind: str | None = None  # "blood_pressure" | "glucose" (None: from the profile/protocol)
    address: str | None = None  # BLE address
    name_pattern: str | None = None  # BLE advertised-name regex, when the address is unknown
    port: str | None = None  # serial URL/path (serial_for_url syntax)
    usb_vid_pid: str | None = None  # "067b:2303": auto-detect the port by USB ids
    protocol: str | None = None  # serial protocol family / simulated profile
    quirk: str | None = None  # force a BLE quirk family instead of matching
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class DeviceStatus:
    name: str
    transport: str
    kind: str | None = None
    state: str = "idle"
    last_seen: datetime | None = None
    last_reading_at: datetime | None = None
    battery_pct: int | None = None
    readings_total: int = 0
    # Counted by the supervisor from each commit's result: readings new to the outbox, and
    # records the device sent again (meters re-send their whole memory on every connection).
    readings_stored: int = 0
    records_resent: int = 0
    last_error: str | None = None
    failures: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "transport": self.transport,
            "kind": self.kind,
            "state": self.state,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "last_reading_at": self.last_reading_at.isoformat() if self.last_reading_at else None,
            "battery_pct": self.battery_pct,
            "readings_total": self.readings_total,
            "readings_stored": self.readings_stored,
            "records_resent": self.records_resent,
            "last_error": self.last_error,
            "failures": self.failures,
        }


@dataclass(slots=True)
class DeviceContext:
    config: DeviceConfig
    sink: ReadingSink
    status: DeviceStatus
    events: EventBus
    gateway_id: str
    site_id: str | None
    clock: Callable[[], datetime]  # aware UTC "now"; injected so tests control time


class DeviceRunner(Protocol):
    async def run_once(self, ctx: DeviceContext) -> None: ...


RunnerFactory = Callable[[DeviceConfig], DeviceRunner]

# transport -> "module:function"; imported on first use only.
RUNNER_FACTORIES: dict[str, str] = {
    "ble": "drivers.ble.runner:make_runner",
    "serial": "drivers.serial.runner:make_runner",
    "simulated": "simulators.synthetic:make_runner",
}


# transport -> "module:function(config, base_dir) -> DeviceConfig", called when a config file
# is loaded: checks what only the driver understands in `options` (raising ConfigError, so a
# bad device stops `gempita run` at start-up) and makes relative paths absolute from the config
# file's directory. Imported on first use only; transports without an entry are unchanged.
CONFIG_CHECKS: dict[str, str] = {
    "simulated": "simulators.synthetic:prepare_config",
}


def prepare_device(config: DeviceConfig, base_dir: Path) -> DeviceConfig:
    target = CONFIG_CHECKS.get(config.transport)
    if target is None:
        return config
    module_name, _, attr = target.partition(":")
    check: Callable[[DeviceConfig, Path], DeviceConfig] = getattr(
        importlib.import_module(module_name), attr
    )
    return check(config, base_dir)


def runner_factory(transport: str) -> RunnerFactory:
    try:
        target = RUNNER_FACTORIES[transport]
    except KeyError:
        raise ValueError(
            f"unknown device transport {transport!r}; use one of {sorted(RUNNER_FACTORIES)}"
        ) from None
    module_name, _, attr = target.partition(":")
    factory: RunnerFactory = getattr(importlib.import_module(module_name), attr)
    return factory
