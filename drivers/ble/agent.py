"""A BlueZ pairing agent that answers with the PIN the operator typed (`devices pair --passkey`).

bleak bonds by calling `org.bluez.Device1.Pair`, but registers no agent, so BlueZ has nobody to
ask for the 6-digit PIN that meters such as the Roche Accu-Chek display. This module exports an
`org.bluez.Agent1` object on its own D-Bus connection, registers it with
`org.bluez.AgentManager1` and makes it the default agent, so that the `Pair` call bleak makes
on another connection is answered from here. Used as an async context manager around the
connect-and-pair step; the agent is unregistered on exit.

The agent is deliberately narrow:
- it answers only the bus name that owns `org.bluez` when the agent was registered (the system
  bus policy already restricts this; the check keeps the PIN away from any other peer);
- it hands the PIN, confirms a passkey and authorizes services only for the device being
  paired, and confirms a numeric-comparison passkey only when it equals the configured PIN;
- everything else is refused with `org.bluez.Error.Rejected`.

The bus address is injectable (default: the system bus) so tests run it against a private
`dbus-daemon` and a fake `org.bluez`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from dbus_fast import BusType, Message, MessageFlag, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusFastError

from drivers.errors import DeviceSessionError, DeviceUnavailableError, UsageError

_LOGGER = logging.getLogger(__name__)

BLUEZ_SERVICE = "org.bluez"
BLUEZ_PATH = "/org/bluez"
AGENT_INTERFACE = "org.bluez.Agent1"
AGENT_MANAGER_INTERFACE = "org.bluez.AgentManager1"
AGENT_PATH = "/org/gempita/edge/pairing_agent"
REJECTED = "org.bluez.Error.Rejected"
UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"

# BlueZ's IO capabilities (doc/org.bluez.AgentManager.rst). A kiosk has a keyboard (the
# operator's) and a display; "KeyboardOnly" suits a headless gateway configured over SSH.
CAPABILITIES = frozenset(
    {"DisplayOnly", "DisplayYesNo", "KeyboardOnly", "NoInputNoOutput", "KeyboardDisplay"}
)

# Agent1 methods and their D-Bus argument signatures (doc/org.bluez.Agent.rst).
_SIGNATURES: dict[str, str] = {
    "Release": "",
    "RequestPinCode": "o",
    "DisplayPinCode": "os",
    "RequestPasskey": "o",
    "DisplayPasskey": "ouq",
    "RequestConfirmation": "ou",
    "RequestAuthorization": "o",
    "AuthorizeService": "os",
    "Cancel": "",
}

_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_PIN = re.compile(r"^[0-9A-Za-z]{1,16}$")

NO_SYSTEM_BUS_ADVICE = (
    "cannot reach the system D-Bus ({detail}). The pairing agent talks to bluetoothd over "
    "D-Bus: check that dbus runs (`systemctl status dbus`)"
)
NO_BLUETOOTHD_ADVICE = (
    "bluetoothd is not running (nobody owns org.bluez on D-Bus). Start it "
    "(`systemctl start bluetooth`), check that an adapter is present (`bluetoothctl list`), "
    "then pair again"
)
ACCESS_DENIED_ADVICE = (
    "bluetoothd refused to register the pairing agent ({detail}). The gateway user must be "
    "allowed to talk to org.bluez: add it to the `bluetooth` group (or run the pairing as root)"
)


def device_path_name(address: str) -> str:
    """The last element of BlueZ's object path for a device: `dev_60_77_71_64_00_01`."""
    if not _ADDRESS.match(address):
        raise UsageError(f"{address!r} is not a Bluetooth address (expected 60:77:71:64:00:01)")
    return "dev_" + address.upper().replace(":", "_")


def check_pin(pin: str) -> str:
    """The PIN as typed: 1-16 letters or digits (a BLE passkey is the 6-digit case)."""
    if not _PIN.match(pin):
        raise UsageError(
            "the passkey must be the digits shown on the meter (1-16 letters or digits, "
            f"no spaces), got {pin!r}"
        )
    return pin


class _Rejected(Exception):
    """Internal: the agent refuses a request (sent to BlueZ as org.bluez.Error.Rejected)."""


@dataclass
class AgentLog:
    """What BlueZ asked the agent, for the caller's error messages and for tests."""

    requests: list[str] = field(default_factory=list)  # "RequestPasskey dev_..." in order
    rejections: list[str] = field(default_factory=list)  # why a request was refused
    secret_given: bool = False  # the PIN was handed over or a passkey confirmed
    cancelled: bool = False  # BlueZ called Cancel (pairing aborted on its side)
    released: bool = False  # BlueZ called Release (it dropped the agent itself)


class _Answers:
    """The agent's decisions, free of D-Bus I/O: method name and arguments in, reply out."""

    def __init__(self, pin: str, device_name: str, log: AgentLog) -> None:
        self._pin = pin
        self._device_name = device_name
        self._log = log

    def _ours(self, device: str, what: str) -> None:
        if device.rsplit("/", 1)[-1] != self._device_name:
            raise _Rejected(f"{what} for {device}, but this agent pairs {self._device_name}")

    def answer(self, member: str, args: list[Any]) -> tuple[str, list[Any]]:
        """Reply signature and body for one Agent1 call, or _Rejected."""
        if member == "RequestPasskey":
            self._ours(args[0], "passkey requested")
            if not self._pin.isdigit() or len(self._pin) > 6:
                raise _Rejected("a passkey is up to 6 digits; the PIN given is not")
            self._log.secret_given = True
            return "u", [int(self._pin)]
        if member == "RequestPinCode":
            self._ours(args[0], "PIN code requested")
            self._log.secret_given = True
            return "s", [self._pin]
        if member == "RequestConfirmation":
            self._ours(args[0], "passkey confirmation requested")
            shown = f"{args[1]:06d}"
            if not self._pin.isdigit() or int(self._pin) != args[1]:
                raise _Rejected(f"the passkey {shown} to confirm differs from the one given")
            self._log.secret_given = True
            return "", []
        if member == "RequestAuthorization":
            self._ours(args[0], "pairing authorization requested")
            return "", []
        if member == "AuthorizeService":
            self._ours(args[0], f"service {args[1]} authorization requested")
            return "", []
        if member == "DisplayPasskey":
            # Only happens when the peer has the keyboard; a meter never does, but the
            # operator can still read the number from the log.
            _LOGGER.info("%s: type passkey %06d on the device", args[0], args[1])
            return "", []
        if member == "DisplayPinCode":
            _LOGGER.info("%s: type PIN code %s on the device", args[0], args[1])
            return "", []
        if member == "Cancel":
            self._log.cancelled = True
            _LOGGER.info("pairing agent: BlueZ cancelled the request")
            return "", []
        if member == "Release":
            self._log.released = True
            _LOGGER.info("pairing agent: released by BlueZ")
            return "", []
        raise _Rejected(f"unknown request {member}")


class PairingAgent:
    """`async with PairingAgent(pin, device_address=...)`: BlueZ's default agent meanwhile.

    Raises (on entry) DeviceUnavailableError when there is no system bus, no bluetoothd or no
    permission to register, with what to do; DeviceSessionError when bluetoothd refuses for
    another reason.
    """

    def __init__(
        self,
        pin: str,
        *,
        device_address: str,
        bus_address: str | None = None,
        capability: str = "KeyboardDisplay",
        path: str = AGENT_PATH,
        call_timeout_s: float = 10.0,
    ) -> None:
        if capability not in CAPABILITIES:
            raise UsageError(
                f"unknown agent capability {capability!r}; one of {', '.join(sorted(CAPABILITIES))}"
            )
        self.device_address = device_address.upper()
        self.path = path
        self.capability = capability
        self.log = AgentLog()
        self._answers = _Answers(check_pin(pin), device_path_name(device_address), self.log)
        self._bus_address = bus_address
        self._call_timeout_s = call_timeout_s
        self._bus: MessageBus | None = None
        self._bluez_owner: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> PairingAgent:
        self._bus = await self._connect()
        try:
            self._bluez_owner = await self._bluez_name_owner()
            self._bus.add_message_handler(self._on_message)
            await self._manager_call("RegisterAgent", "os", [self.path, self.capability])
            try:
                await self._manager_call("RequestDefaultAgent", "o", [self.path])
            except BaseException:
                await self._unregister()
                raise
        except BaseException:
            await self._disconnect()
            raise
        _LOGGER.info("pairing agent registered for %s (%s)", self.device_address, self.capability)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self.log.released:
                await self._unregister()
        finally:
            await self._disconnect()

    async def _connect(self) -> MessageBus:
        if self._bus_address is not None:
            bus = MessageBus(bus_address=self._bus_address)
        else:
            bus = MessageBus(bus_type=BusType.SYSTEM)
        try:
            async with asyncio.timeout(self._call_timeout_s):
                return await bus.connect()
        except (OSError, DBusFastError, TimeoutError) as exc:
            raise DeviceUnavailableError(
                NO_SYSTEM_BUS_ADVICE.format(detail=f"{type(exc).__name__}: {exc}")
            ) from exc

    async def _disconnect(self) -> None:
        bus, self._bus = self._bus, None
        if bus is None:
            return
        bus.remove_message_handler(self._on_message)
        bus.disconnect()
        try:
            # Wait for the socket to close, or it outlives the event loop. dbus-fast leaves
            # wait_for_disconnect unannotated.
            async with asyncio.timeout(self._call_timeout_s):
                await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
        except (OSError, EOFError, DBusFastError, TimeoutError) as exc:
            _LOGGER.debug("pairing agent: D-Bus connection ended with %r", exc)

    async def _call(self, message: Message) -> Message:
        if self._bus is None:
            raise UsageError("the pairing agent is not registered (use `async with`)")
        try:
            async with asyncio.timeout(self._call_timeout_s):
                return await self._bus.call(message)
        except TimeoutError as exc:
            raise DeviceSessionError(
                f"{message.destination} did not answer {message.member} within "
                f"{self._call_timeout_s:g} s; is bluetoothd hanging? "
                "(`systemctl restart bluetooth`)"
            ) from exc
        except (OSError, EOFError, DBusFastError) as exc:
            raise DeviceUnavailableError(
                NO_SYSTEM_BUS_ADVICE.format(detail=f"{type(exc).__name__}: {exc}")
            ) from exc

    async def _bluez_name_owner(self) -> str:
        reply = await self._call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="GetNameOwner",
                signature="s",
                body=[BLUEZ_SERVICE],
            )
        )
        if reply.message_type is MessageType.ERROR:
            raise DeviceUnavailableError(NO_BLUETOOTHD_ADVICE)
        return str(reply.body[0])

    async def _manager_call(self, member: str, signature: str, body: list[Any]) -> None:
        reply = await self._call(
            Message(
                destination=BLUEZ_SERVICE,
                path=BLUEZ_PATH,
                interface=AGENT_MANAGER_INTERFACE,
                member=member,
                signature=signature,
                body=body,
            )
        )
        if reply.message_type is not MessageType.ERROR:
            return
        detail = f"{reply.error_name}: {reply.body[0] if reply.body else ''}"
        if reply.error_name in (
            "org.freedesktop.DBus.Error.ServiceUnknown",
            "org.freedesktop.DBus.Error.NameHasNoOwner",
        ):
            raise DeviceUnavailableError(NO_BLUETOOTHD_ADVICE)
        if reply.error_name == "org.freedesktop.DBus.Error.AccessDenied":
            raise DeviceUnavailableError(ACCESS_DENIED_ADVICE.format(detail=detail))
        raise DeviceSessionError(f"bluetoothd refused {member} for the pairing agent: {detail}")

    async def _unregister(self) -> None:
        """Best effort: a failure here must not hide the pairing outcome."""
        try:
            await self._manager_call("UnregisterAgent", "o", [self.path])
        except DeviceSessionError as exc:
            _LOGGER.warning("pairing agent: unregister failed: %s", exc)
        else:
            _LOGGER.info("pairing agent unregistered")

    # -- incoming calls --------------------------------------------------------------------

    def _on_message(self, msg: Message) -> Message | bool | None:
        if msg.message_type is not MessageType.METHOD_CALL or msg.path != self.path:
            return None
        if msg.interface not in (AGENT_INTERFACE, None):
            return None  # Introspect and friends: dbus-fast answers (the path is not exported)
        wants_reply = not (msg.flags & MessageFlag.NO_REPLY_EXPECTED)
        member = msg.member or ""
        if msg.sender != self._bluez_owner:
            _LOGGER.warning(
                "pairing agent: refused %s from %s (not bluetoothd)", member, msg.sender
            )
            return Message.new_error(msg, REJECTED, "only bluetoothd may use this agent")
        expected = _SIGNATURES.get(member)
        if expected is None or msg.signature != expected:
            return Message.new_error(
                msg, UNKNOWN_METHOD, f"{AGENT_INTERFACE}.{member}({msg.signature}) is not known"
            )
        self.log.requests.append(" ".join([member, *map(str, msg.body[:1])]))
        try:
            signature, body = self._answers.answer(member, list(msg.body))
        except _Rejected as exc:
            self.log.rejections.append(str(exc))
            _LOGGER.warning("pairing agent: rejected %s: %s", member, exc)
            return Message.new_error(msg, REJECTED, str(exc)) if wants_reply else True
        if not wants_reply:
            return True  # BlueZ sends Release and Cancel without waiting for a reply
        return Message.new_method_return(msg, signature, body)
