"""Device configuration, per-device status and the runner contract for drivers.

A driver package provides a *runner factory* `make_runner(config) -> DeviceRunner`. The
gateway's supervisor calls `runner.run_once(ctx)` for one connection session (connect, read
what is new, commit through `ctx.sink`, return) and owns retries: a runner never loops on
failure itself, it raises and the supervisor backs off. The contract lives here, below the
drivers that implement it and the gateway that drives it (zigpy's radio API is declared the
same way); which factory serves which transport is the gateway's business
(`gateway/transports.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from core.events import EventBus
from core.sink import ReadingSink


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

# Checks what only a transport's driver understands in a device's `options`, when the config
# file is loaded, so a bad device stops `gempita run` at start-up: returns the device, perhaps
# with relative paths made absolute from `base_dir` (the config file's directory), or raises
# ValueError saying which option is wrong. The composition root hands them to the loader.
DeviceCheck = Callable[[DeviceConfig, Path], DeviceConfig]
