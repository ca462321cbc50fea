"""The link's error mapping and retry policy, scanning, and pairing through the public API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakDBusError, BleakDeviceNotFoundError, BleakError

from core.reading import Kind
from drivers.ble.link import ConnectPolicy, LinkLostError, open_link
from drivers.ble.pair import pair
from drivers.ble.scan import FoundDevice, scan
from drivers.errors import DeviceSessionError, DeviceUnavailableError, UsageError
from simulators.ble.backend import Air
from simulators.ble.devices import AccuChekMeter, AndUa651, BpMonitor, GlucoseMeter
from simulators.ble.peripheral import CentralLink, GattPeripheral, Service
from tests.ble_sessions.helpers import FAST, fixed_clock


class FlakyMonitor(BpMonitor):
    """Refuses the first `failures` connections with `error`."""

    def __init__(self, failures: int, error: Callable[[], Exception]) -> None:
        super().__init__(clock=fixed_clock())
        self.failures = failures
        self.error = error
        self.attempts = 0

    async def accept(self, on_lost: Callable[[], None]) -> CentralLink:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise self.error()
        return await super().accept(on_lost)


def _scanner_raising(exc: Exception) -> type[BaseBleakScanner]:
    class Broken(BaseBleakScanner):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(None, None)

        async def start(self) -> None:
            raise exc

        async def stop(self) -> None:
            return None

    return Broken


async def test_scan_reports_meters_with_profile_and_quirk(air: Air) -> None:
    air.add(BpMonitor(clock=fixed_clock()))
    air.add(AndUa651(clock=fixed_clock()))
    air.add(GlucoseMeter(clock=fixed_clock()))
    air.add(
        GattPeripheral(
            address="11:22:33:44:55:66",
            name="Thermometer",
            services=[Service("1809")],
            advertised_services=["1809"],
        )
    )
    found = await scan(0.05, backend=air.scanner_backend())
    by_address = {d.address: d for d in found}
    assert set(by_address) == {"00:5F:BF:10:00:01", "5C:31:3E:65:10:01", "C8:FD:19:20:00:01"}
    assert by_address["5C:31:3E:65:10:01"] == FoundDevice(
        address="5C:31:3E:65:10:01",
        name="A&D_UA-651_0A1B2C",
        rssi=-60,
        profile=Kind.BLOOD_PRESSURE,
        quirk="and_ua651",
        services=("00001810-0000-1000-8000-00805f9b34fb",),
    )
    assert by_address["C8:FD:19:20:00:01"].profile is Kind.GLUCOSE
    assert by_address["C8:FD:19:20:00:01"].quirk == "ascensia_contour"
    assert by_address["00:5F:BF:10:00:01"].quirk is None


@pytest.mark.parametrize(
    "exc",
    [
        FileNotFoundError(2, "No such file or directory"),
        BleakDBusError(
            "org.freedesktop.DBus.Error.ServiceUnknown",
            ["The name org.bluez was not provided by any .service files"],
        ),
    ],
)
async def test_no_bluetooth_stack_is_device_unavailable(exc: Exception) -> None:
    with pytest.raises(DeviceUnavailableError, match="bluetoothd"):
        await scan(0.01, backend=_scanner_raising(exc))


async def test_other_dbus_error_is_a_session_error() -> None:
    exc = BleakDBusError("org.bluez.Error.InProgress", ["Operation already in progress"])
    with pytest.raises(DeviceSessionError) as caught:
        await scan(0.01, backend=_scanner_raising(exc))
    assert not isinstance(caught.value, DeviceUnavailableError)


async def test_connect_retries_with_injected_backoff(air: Air) -> None:
    monitor = air.add(FlakyMonitor(2, lambda: BleakError("Connection refused by peer")))
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    policy = ConnectPolicy(scan_timeout_s=1.0, attempts=3, backoff_s=7.5)
    link = await open_link(
        "bp",
        address=monitor.address,
        policy=policy,
        client_backend=air.client_backend(),
        scanner_backend=air.scanner_backend(),
        sleep=sleep,
    )
    try:
        assert link.is_connected
    finally:
        await link.close()
    assert monitor.attempts == 3
    assert sleeps == [7.5, 7.5]


async def test_connect_gives_up_after_attempts(air: Air) -> None:
    monitor = air.add(FlakyMonitor(5, lambda: BleakError("Connection refused by peer")))

    async def sleep(_seconds: float) -> None:
        return None

    policy = ConnectPolicy(scan_timeout_s=1.0, attempts=2, backoff_s=0.0)
    with pytest.raises(DeviceSessionError, match="after 2 attempt"):
        await open_link(
            "bp",
            address=monitor.address,
            policy=policy,
            client_backend=air.client_backend(),
            scanner_backend=air.scanner_backend(),
            sleep=sleep,
        )
    assert monitor.attempts == 2


async def test_device_gone_at_connect_does_not_wait_36_seconds(air: Air) -> None:
    # bleak-retry-connector treats "not found" as transient (9 x 4 s); the attempt timeout
    # bounds it.
    monitor = air.add(
        FlakyMonitor(99, lambda: BleakDeviceNotFoundError("00:5F:BF:10:00:01", "gone"))
    )
    policy = ConnectPolicy(scan_timeout_s=1.0, attempts=1, backoff_s=0.0, attempt_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(DeviceSessionError, match="could not connect"):
        await open_link(
            "bp",
            address=monitor.address,
            policy=policy,
            client_backend=air.client_backend(),
            scanner_backend=air.scanner_backend(),
        )
    assert time.monotonic() - started < 3.0


async def test_missing_dbus_at_connect_is_device_unavailable(air: Air) -> None:
    monitor = air.add(FlakyMonitor(1, lambda: FileNotFoundError(2, "no dbus socket")))
    with pytest.raises(DeviceUnavailableError):
        await open_link(
            "bp",
            address=monitor.address,
            policy=FAST,
            client_backend=air.client_backend(),
            scanner_backend=air.scanner_backend(),
        )


async def test_link_lost_is_typed_and_unsubscribe_tolerates_it(air: Air) -> None:
    monitor = air.add(BpMonitor(clock=fixed_clock(), records=[]))
    link = await open_link(
        "bp",
        address=monitor.address,
        policy=FAST,
        client_backend=air.client_backend(),
        scanner_backend=air.scanner_backend(),
    )
    await link.subscribe("2a35", lambda _u, _d: None)
    await link.lost.wait()  # the monitor hangs up after sending nothing
    await link.unsubscribe("2a35")
    with pytest.raises(LinkLostError):
        await link.read("2a49")
    await link.close()


async def test_pair_just_works(air: Air) -> None:
    monitor = air.add(AndUa651(clock=fixed_clock()))
    result = await pair(
        monitor.address,
        policy=FAST,
        client_backend=air.client_backend(),
        scanner_backend=air.scanner_backend(),
    )
    assert result.bonded and not result.passkey_used
    assert monitor.bonded


async def test_pair_with_passkey(air: Air) -> None:
    meter = air.add(AccuChekMeter(clock=fixed_clock()))
    with pytest.raises(DeviceSessionError, match="bonding failed"):
        await pair(
            meter.address,
            passkey="000000",
            policy=FAST,
            client_backend=air.client_backend(),
            scanner_backend=air.scanner_backend(),
        )
    result = await pair(
        meter.address,
        passkey="123456",
        policy=FAST,
        client_backend=air.client_backend(),
        scanner_backend=air.scanner_backend(),
    )
    assert result.passkey_used and meter.bonded


async def test_passkey_on_backend_without_agent_is_refused_not_faked(air: Air) -> None:
    meter = air.add(AccuChekMeter(clock=fixed_clock()))
    no_agent: type[BaseBleakClient] = type(
        "NoAgentClient", (air.client_backend(),), {"supports_passkey": False}
    )
    with pytest.raises(UsageError, match="bluetoothctl"):
        await pair(
            meter.address,
            passkey="123456",
            policy=FAST,
            client_backend=no_agent,
            scanner_backend=air.scanner_backend(),
        )
    assert not meter.bonded
