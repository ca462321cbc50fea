"""Shared helpers for the BLE session tests: a fixed device clock, configs, a context."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.devices import DeviceConfig, DeviceContext, DeviceStatus
from core.events import EventBus
from drivers.ble.link import ConnectPolicy
from drivers.ble.session_bp import BpOptions
from drivers.ble.session_glucose import GlucoseOptions
from simulators.ble.backend import Air
from simulators.ble.devices import DeviceClock
from simulators.ble.peripheral import GattPeripheral
from tests.support.sink import MemorySink

# 13:00 WITA (UTC+8) in Balikpapan.
NOW = datetime(2026, 11, 27, 5, 0, 0, tzinfo=UTC)
FAST = ConnectPolicy(scan_timeout_s=1.0, attempts=2, backoff_s=0.0, attempt_timeout_s=5.0)
FAST_BP = BpOptions(idle_timeout_s=0.3, max_session_s=5.0)
FAST_GLUCOSE = GlucoseOptions(racp_timeout_s=1.0, busy_backoff_s=0.01, clock_timeout_s=0.5)


def local_now() -> datetime:
    """NOW as a WITA wall-clock time, the way a correctly set meter shows it."""
    return datetime(2026, 11, 27, 13, 0, 0)


def fixed_clock(drift_s: float = 0.0) -> DeviceClock:
    """A device clock running off NOW (plus a drift), so tests never see the real time."""
    return DeviceClock(lambda: NOW, drift_s=drift_s)


def config_for(
    air: Air,
    peripheral: GattPeripheral,
    *,
    kind: str | None = None,
    quirk: str | None = None,
    **options: Any,
) -> DeviceConfig:
    opts: dict[str, Any] = {
        "backend": air,
        "connect_policy": FAST,
        "bp": FAST_BP,
        "glucose": FAST_GLUCOSE,
    }
    opts.update(options)
    return DeviceConfig(
        name="meter-1",
        transport="ble",
        kind=kind,
        address=peripheral.address,
        quirk=quirk,
        options=opts,
    )


def context(
    config: DeviceConfig, sink: MemorySink, events: EventBus | None = None
) -> DeviceContext:
    return DeviceContext(
        config=config,
        sink=sink,
        status=DeviceStatus(name=config.name, transport="ble"),
        events=events or EventBus(),
        gateway_id="gw-test",
        site_id="kiosk-1",
        clock=lambda: NOW,
    )
