"""`devices pair --passkey`: the PIN travels agent -> D-Bus -> (fake) bluetoothd -> meter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from bleak.backends.client import BaseBleakClient
from bleak.exc import BleakError
from dbus_fast import MessageType

from drivers.ble.agent import AGENT_PATH, PairingAgent
from drivers.ble.link import ConnectPolicy, open_link
from drivers.ble.pair import bond, pair
from drivers.errors import DeviceSessionError, DeviceUnavailableError
from simulators.ble.backend import Air
from simulators.ble.devices import AccuChekMeter, AndUa651, DeviceClock
from tests.ble_agent.fake_bluez import FakeBluez, ManagerCall

FAST = ConnectPolicy(scan_timeout_s=0.3, attempts=1, backoff_s=0.0, attempt_timeout_s=5.0)


def clock() -> DeviceClock:
    return DeviceClock(lambda: datetime(2026, 11, 27, 5, 0, tzinfo=UTC))


@pytest.fixture
async def air() -> AsyncIterator[Air]:
    the_air = Air(advertise_interval_s=0.005)
    yield the_air
    await the_air.aclose()


def bluez_like_backend(
    air: Air, bluez: FakeBluez, *, meter_times_out: bool = False
) -> type[BaseBleakClient]:
    """A client backend that pairs the way bleak does on BlueZ: no passkey argument; bluetoothd
    asks its default agent (over D-Bus) and hands the answer to the meter. `meter_times_out`:
    the meter leaves pairing mode first, so bluetoothd cancels the agent's request."""

    class BluezLikeClient(air.client_backend()):  # type: ignore[misc]
        supports_passkey: ClassVar[bool] = False

        async def pair(self, *args: Any, **kwargs: Any) -> None:
            peripheral = self._require_peripheral()
            passkey: str | None = None
            if meter_times_out:
                await bluez.notify_agent("Cancel")
                raise BleakError("[org.bluez.Error.AuthenticationCanceled] Authentication Canceled")
            if peripheral.passkey is not None:
                path = "/org/bluez/hci0/dev_" + self.address.upper().replace(":", "_")
                reply = await bluez.call_agent("RequestPasskey", "o", [path])
                if reply.message_type is MessageType.ERROR:
                    await bluez.notify_agent("Cancel")
                    raise BleakError(f"[org.bluez.Error.AuthenticationCanceled] {reply.body}")
                passkey = f"{reply.body[0]:06d}"
            await peripheral.pair(passkey)

    return BluezLikeClient


async def bond_through_agent(
    air: Air, bluez: FakeBluez, bus: str, address: str, pin: str, *, meter_times_out: bool = False
) -> bool:
    backend = bluez_like_backend(air, bluez, meter_times_out=meter_times_out)
    async with PairingAgent(pin, device_address=address, bus_address=bus) as agent:
        link = await open_link(
            address,
            address=address,
            policy=FAST,
            client_backend=backend,
            scanner_backend=air.scanner_backend(),
        )
        try:
            return await bond(link, passkey=pin, client_backend=backend, agent=agent)
        finally:
            await link.close()


async def test_pin_reaches_the_meter_through_the_agent(
    air: Air, bluez: FakeBluez, bus_address: str
) -> None:
    meter = air.add(AccuChekMeter(clock=clock()))
    assert await bond_through_agent(air, bluez, bus_address, meter.address, "123456")
    assert meter.bonded
    assert [call.member for call in bluez.calls][-1] == "UnregisterAgent"


async def test_wrong_pin_is_refused_by_the_meter_with_a_hint(
    air: Air, bluez: FakeBluez, bus_address: str
) -> None:
    meter = air.add(AccuChekMeter(clock=clock()))
    with pytest.raises(DeviceSessionError, match=r"bonding failed.*type exactly the digits"):
        await bond_through_agent(air, bluez, bus_address, meter.address, "654321")
    assert not meter.bonded


async def test_agent_refusal_is_reported(air: Air, bluez: FakeBluez, bus_address: str) -> None:
    meter = air.add(AccuChekMeter(clock=clock()))
    with pytest.raises(DeviceSessionError, match="pairing agent refused: a passkey is up to 6"):
        await bond_through_agent(air, bluez, bus_address, meter.address, "1234567")
    assert not meter.bonded


async def test_cancelled_exchange_says_to_retry_in_pairing_mode(
    air: Air, bluez: FakeBluez, bus_address: str
) -> None:
    meter = air.add(AccuChekMeter(clock=clock()))
    with pytest.raises(DeviceSessionError, match="BlueZ cancelled the passkey exchange"):
        await bond_through_agent(
            air, bluez, bus_address, meter.address, "123456", meter_times_out=True
        )
    assert not meter.bonded


async def test_just_works_meter_never_asks_so_the_pin_is_not_used(
    air: Air, bluez: FakeBluez, bus_address: str
) -> None:
    monitor = air.add(AndUa651(clock=clock()))
    assert not await bond_through_agent(air, bluez, bus_address, monitor.address, "123456")
    assert monitor.bonded


async def test_pair_registers_the_agent_for_the_default_backend(
    air: Air, bluez: FakeBluez, bus_address: str
) -> None:
    # Nothing advertises: the agent must be registered before the scan and gone after it.
    with pytest.raises(DeviceSessionError, match="not advertising"):
        await pair(
            "60:77:71:64:00:09",
            passkey="123456",
            policy=FAST,
            scanner_backend=air.scanner_backend(),
            bus_address=bus_address,
        )
    owner = bluez.calls[0].sender
    assert bluez.calls == [
        ManagerCall("RegisterAgent", owner, AGENT_PATH, "KeyboardDisplay"),
        ManagerCall("RequestDefaultAgent", owner, AGENT_PATH),
        ManagerCall("UnregisterAgent", owner, AGENT_PATH),
    ]


async def test_pair_without_bluetoothd_fails_before_scanning(air: Air, bus_address: str) -> None:
    meter = air.add(AccuChekMeter(clock=clock()))
    with pytest.raises(DeviceUnavailableError, match="systemctl start bluetooth"):
        await pair(
            meter.address,
            passkey="123456",
            policy=FAST,
            scanner_backend=air.scanner_backend(),
            bus_address=bus_address,
        )
    assert not meter.bonded


async def test_simulated_backend_takes_the_passkey_without_an_agent(
    air: Air, bluez: FakeBluez, bus_address: str
) -> None:
    meter = air.add(AccuChekMeter(clock=clock()))
    result = await pair(
        meter.address,
        passkey="123456",
        policy=FAST,
        client_backend=air.client_backend(),
        scanner_backend=air.scanner_backend(),
        bus_address=bus_address,
    )
    assert result.passkey_used and meter.bonded
    assert bluez.calls == []
