"""The pairing agent against a real D-Bus daemon and a fake bluetoothd."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from drivers.ble.agent import AGENT_INTERFACE, AGENT_PATH, AgentLog, PairingAgent
from drivers.errors import DeviceSessionError, DeviceUnavailableError, UsageError
from tests.ble_agent.fake_bluez import FakeBluez, ManagerCall

METER = "60:77:71:64:00:01"
METER_PATH = "/org/bluez/hci0/dev_60_77_71_64_00_01"
OTHER_PATH = "/org/bluez/hci0/dev_60_77_71_64_00_02"
REJECTED = "org.bluez.Error.Rejected"


def ok(reply: Message, signature: str = "", body: list[Any] | None = None) -> None:
    assert (reply.message_type, reply.error_name) == (MessageType.METHOD_RETURN, None)
    assert (reply.signature, reply.body) == (signature, body or [])


def rejected(reply: Message) -> str:
    assert (reply.message_type, reply.error_name) == (MessageType.ERROR, REJECTED)
    return str(reply.body[0])


async def name_has_owner(address: str, name: str) -> bool:
    bus = await MessageBus(bus_address=address).connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="NameHasOwner",
                signature="s",
                body=[name],
            )
        )
        return bool(reply.body[0])
    finally:
        bus.disconnect()
        await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]


async def test_registers_as_default_answers_passkey_and_unregisters(
    bluez: FakeBluez, bus_address: str
) -> None:
    async with PairingAgent("123456", device_address=METER, bus_address=bus_address) as agent:
        owner = bluez.calls[0].sender
        assert bluez.calls == [
            ManagerCall("RegisterAgent", owner, AGENT_PATH, "KeyboardDisplay"),
            ManagerCall("RequestDefaultAgent", owner, AGENT_PATH),
        ]
        assert bluez.default_agent() == (owner, AGENT_PATH)
        ok(await bluez.call_agent("RequestPasskey", "o", [METER_PATH]), "u", [123456])
        assert agent.log == AgentLog(requests=[f"RequestPasskey {METER_PATH}"], secret_given=True)
    assert bluez.calls[2:] == [ManagerCall("UnregisterAgent", owner, AGENT_PATH)]
    assert bluez.agents == {}
    assert bluez.default_agent() is None
    assert not await name_has_owner(bus_address, owner)  # its connection is closed too


async def test_passkey_with_leading_zeros_and_pin_code(bluez: FakeBluez, bus_address: str) -> None:
    async with PairingAgent(
        "004711", device_address=METER.lower(), bus_address=bus_address, capability="KeyboardOnly"
    ):
        assert bluez.calls[0].capability == "KeyboardOnly"
        ok(await bluez.call_agent("RequestPasskey", "o", [METER_PATH]), "u", [4711])
        ok(await bluez.call_agent("RequestPinCode", "o", [METER_PATH]), "s", ["004711"])


async def test_alphanumeric_pin_is_a_pin_code_but_never_a_passkey(
    bluez: FakeBluez, bus_address: str
) -> None:
    async with PairingAgent("ab12", device_address=METER, bus_address=bus_address) as agent:
        ok(await bluez.call_agent("RequestPinCode", "o", [METER_PATH]), "s", ["ab12"])
        assert "6 digits" in rejected(await bluez.call_agent("RequestPasskey", "o", [METER_PATH]))
        assert len(agent.log.rejections) == 1


async def test_confirmation_accepted_only_for_the_configured_passkey(
    bluez: FakeBluez, bus_address: str
) -> None:
    async with PairingAgent("123456", device_address=METER, bus_address=bus_address) as agent:
        message = rejected(
            await bluez.call_agent("RequestConfirmation", "ou", [METER_PATH, 654321])
        )
        assert "654321" in message and "123456" not in message  # the PIN is not echoed
        assert agent.log == AgentLog(
            requests=[f"RequestConfirmation {METER_PATH}"], rejections=[message]
        )
        ok(await bluez.call_agent("RequestConfirmation", "ou", [METER_PATH, 123456]))
        assert agent.log == AgentLog(
            requests=[f"RequestConfirmation {METER_PATH}"] * 2,
            rejections=[message],
            secret_given=True,
        )


async def test_other_devices_get_nothing(bluez: FakeBluez, bus_address: str) -> None:
    async with PairingAgent("123456", device_address=METER, bus_address=bus_address) as agent:
        calls: list[tuple[str, str, list[Any]]] = [
            ("RequestPasskey", "o", [OTHER_PATH]),
            ("RequestPinCode", "o", [OTHER_PATH]),
            ("RequestConfirmation", "ou", [OTHER_PATH, 123456]),
            ("RequestAuthorization", "o", [OTHER_PATH]),
            ("AuthorizeService", "os", [OTHER_PATH, "00001808-0000-1000-8000-00805f9b34fb"]),
        ]
        for member, signature, body in calls:
            assert "dev_60_77_71_64_00_02" in rejected(
                await bluez.call_agent(member, signature, body)
            )
        assert not agent.log.secret_given
        ok(await bluez.call_agent("RequestAuthorization", "o", [METER_PATH]))
        ok(
            await bluez.call_agent(
                "AuthorizeService", "os", [METER_PATH, "00001808-0000-1000-8000-00805f9b34fb"]
            )
        )


async def test_display_calls_are_acknowledged_and_logged(
    bluez: FakeBluez, bus_address: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="drivers.ble.agent")
    async with PairingAgent("123456", device_address=METER, bus_address=bus_address):
        ok(await bluez.call_agent("DisplayPasskey", "ouq", [METER_PATH, 42, 0]))
        ok(await bluez.call_agent("DisplayPinCode", "os", [METER_PATH, "0000"]))
    assert "type passkey 000042" in caplog.text and "type PIN code 0000" in caplog.text


async def test_cancel_is_recorded(bluez: FakeBluez, bus_address: str) -> None:
    async with PairingAgent("123456", device_address=METER, bus_address=bus_address) as agent:
        await bluez.notify_agent("Cancel")
        # D-Bus keeps one sender's messages in order: once this answer is back, Cancel arrived.
        ok(await bluez.call_agent("RequestAuthorization", "o", [METER_PATH]))
        assert agent.log.cancelled and not agent.log.released
    assert bluez.calls[-1].member == "UnregisterAgent"


async def test_after_release_the_agent_does_not_unregister(
    bluez: FakeBluez, bus_address: str
) -> None:
    async with PairingAgent("123456", device_address=METER, bus_address=bus_address) as agent:
        await bluez.notify_agent("Release")
        ok(await bluez.call_agent("RequestAuthorization", "o", [METER_PATH]))
        assert agent.log.released
    assert [call.member for call in bluez.calls] == ["RegisterAgent", "RequestDefaultAgent"]


async def test_only_bluetoothd_may_ask(bluez: FakeBluez, bus_address: str) -> None:
    intruder = await MessageBus(bus_address=bus_address).connect()
    try:
        async with PairingAgent("123456", device_address=METER, bus_address=bus_address) as agent:
            owner, path = bluez.default or ("", "")
            reply = await intruder.call(
                Message(
                    destination=owner,
                    path=path,
                    interface=AGENT_INTERFACE,
                    member="RequestPasskey",
                    signature="o",
                    body=[METER_PATH],
                )
            )
            assert "only bluetoothd" in rejected(reply)
            assert not agent.log.secret_given and agent.log.requests == []
    finally:
        intruder.disconnect()
        await intruder.wait_for_disconnect()  # type: ignore[no-untyped-call]


async def test_unknown_method_or_signature(bluez: FakeBluez, bus_address: str) -> None:
    async with PairingAgent("123456", device_address=METER, bus_address=bus_address) as agent:
        for member, signature, body in [
            ("RequestPasskey", "s", [METER_PATH]),
            ("Format", "", []),
        ]:
            reply = await bluez.call_agent(member, signature, body)
            assert reply.error_name == "org.freedesktop.DBus.Error.UnknownMethod"
        assert agent.log.requests == []


async def test_unregisters_when_the_body_raises(bluez: FakeBluez, bus_address: str) -> None:
    with pytest.raises(DeviceSessionError, match="meter gone"):
        async with PairingAgent("123456", device_address=METER, bus_address=bus_address):
            raise DeviceSessionError("meter gone")
    assert [call.member for call in bluez.calls] == [
        "RegisterAgent",
        "RequestDefaultAgent",
        "UnregisterAgent",
    ]
    assert bluez.agents == {}


async def test_no_bluetoothd(bus_address: str) -> None:
    with pytest.raises(DeviceUnavailableError, match="bluetoothd is not running"):
        async with PairingAgent("123456", device_address=METER, bus_address=bus_address):
            pass


async def test_no_dbus(tmp_path: Path) -> None:
    with pytest.raises(DeviceUnavailableError, match=r"cannot reach the system D-Bus"):
        async with PairingAgent(
            "123456", device_address=METER, bus_address=f"unix:path={tmp_path}/no-such-bus"
        ):
            pass


async def test_access_denied_says_which_group(bus_address: str) -> None:
    fake = await FakeBluez(
        bus_address, refuse={"RegisterAgent": "org.freedesktop.DBus.Error.AccessDenied"}
    ).start()
    try:
        with pytest.raises(DeviceUnavailableError, match="`bluetooth` group"):
            async with PairingAgent("123456", device_address=METER, bus_address=bus_address):
                pass
        owner = fake.calls[0].sender
        assert not await name_has_owner(bus_address, owner)
    finally:
        await fake.stop()


async def test_refused_default_unregisters_again(bus_address: str) -> None:
    fake = await FakeBluez(
        bus_address, refuse={"RequestDefaultAgent": "org.bluez.Error.Failed"}
    ).start()
    try:
        with pytest.raises(DeviceSessionError, match=r"RequestDefaultAgent.*Error\.Failed"):
            async with PairingAgent("123456", device_address=METER, bus_address=bus_address):
                pass
        assert [call.member for call in fake.calls] == [
            "RegisterAgent",
            "RequestDefaultAgent",
            "UnregisterAgent",
        ]
        assert fake.agents == {}
    finally:
        await fake.stop()


@pytest.mark.parametrize(
    ("pin", "address", "capability", "match"),
    [
        ("12 34", METER, "KeyboardDisplay", "passkey must be"),
        ("", METER, "KeyboardDisplay", "passkey must be"),
        ("1" * 17, METER, "KeyboardDisplay", "passkey must be"),
        ("123456", "60:77:71:64:00", "KeyboardDisplay", "not a Bluetooth address"),
        ("123456", METER, "Telepathy", "unknown agent capability"),
    ],
)
def test_bad_arguments_are_usage_errors(
    pin: str, address: str, capability: str, match: str
) -> None:
    with pytest.raises(UsageError, match=match):
        PairingAgent(pin, device_address=address, capability=capability)
