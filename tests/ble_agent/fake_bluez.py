"""A private D-Bus daemon and a fake bluetoothd (org.bluez.AgentManager1) for agent tests.

The fake does what bluetoothd does with agents: records RegisterAgent / RequestDefaultAgent /
UnregisterAgent with the caller's unique bus name, and calls org.bluez.Agent1 methods on the
default agent's (owner, path), the way bluetoothd does while a Pair is in progress.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbus_fast import Message, MessageFlag, MessageType
from dbus_fast.aio import MessageBus

from drivers.ble.agent import AGENT_INTERFACE, AGENT_MANAGER_INTERFACE, BLUEZ_PATH

# No skip when it is missing: the Makefile installs Debian's `dbus-daemon` package.
DBUS_DAEMON = shutil.which("dbus-daemon") or "/usr/bin/dbus-daemon"


@contextmanager
def private_bus(workdir: Path) -> Iterator[str]:
    """Run `dbus-daemon --session` on a socket in `workdir`; yield its address."""
    log = workdir / "dbus-daemon.log"
    with log.open("wb") as errors:
        proc = subprocess.Popen(
            [
                DBUS_DAEMON,
                "--session",
                "--nofork",
                "--print-address",
                f"--address=unix:path={workdir / 'bus'}",
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
        )
    try:
        assert proc.stdout is not None
        # The address is printed once the daemon listens.
        address = proc.stdout.readline().decode().strip()
        if not address:
            raise RuntimeError(f"dbus-daemon did not start: {log.read_text()}")
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


@dataclass(frozen=True)
class ManagerCall:
    member: str
    sender: str
    path: str
    capability: str = ""


class FakeBluez:
    """Owns org.bluez on the private bus; `refuse` maps a manager method to an error name."""

    def __init__(self, address: str, *, refuse: dict[str, str] | None = None) -> None:
        self._address = address
        self._refuse = refuse or {}
        self.calls: list[ManagerCall] = []
        self.agents: dict[tuple[str, str], str] = {}  # (owner, path) -> capability
        self.default: tuple[str, str] | None = None
        self.bus: MessageBus | None = None

    async def start(self) -> FakeBluez:
        self.bus = await MessageBus(bus_address=self._address).connect()
        self.bus.add_message_handler(self._on_message)
        await self.bus.request_name("org.bluez")
        return self

    async def stop(self) -> None:
        if self.bus is not None:
            self.bus.disconnect()
            await self.bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
            self.bus = None

    def _on_message(self, msg: Message) -> Message | None:
        if (
            msg.message_type is not MessageType.METHOD_CALL
            or msg.path != BLUEZ_PATH
            or msg.interface != AGENT_MANAGER_INTERFACE
        ):
            return None
        sender = msg.sender or ""
        path = str(msg.body[0])
        self.calls.append(
            ManagerCall(msg.member or "", sender, path, str(msg.body[1]) if msg.body[1:] else "")
        )
        if msg.member in self._refuse:
            return Message.new_error(msg, self._refuse[msg.member], "refused by the fake")
        key = (sender, path)
        if msg.member == "RegisterAgent":
            if any(owner == sender for owner, _ in self.agents):
                return Message.new_error(msg, "org.bluez.Error.AlreadyExists", "Already Exists")
            self.agents[key] = str(msg.body[1])
        elif msg.member == "RequestDefaultAgent" or msg.member == "UnregisterAgent":
            if key not in self.agents:
                return Message.new_error(msg, "org.bluez.Error.DoesNotExist", "Does Not Exist")
            if msg.member == "RequestDefaultAgent":
                self.default = key
            else:
                del self.agents[key]
                if self.default == key:
                    self.default = None
        else:
            return Message.new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "?")
        return Message.new_method_return(msg)

    def default_agent(self) -> tuple[str, str] | None:
        """(owner, path) of the default agent; a call, so tests re-read it after awaits."""
        return self.default

    async def call_agent(
        self, member: str, signature: str = "", body: list[Any] | None = None
    ) -> Message:
        """Call the default agent like bluetoothd during a Pair; return the reply."""
        assert self.bus is not None and self.default is not None
        owner, path = self.default
        return await self.bus.call(
            Message(
                destination=owner,
                path=path,
                interface=AGENT_INTERFACE,
                member=member,
                signature=signature,
                body=body or [],
            )
        )

    async def notify_agent(self, member: str) -> None:
        """Release / Cancel: bluetoothd sends these without waiting for a reply."""
        assert self.bus is not None and self.default is not None
        owner, path = self.default
        await self.bus.send(
            Message(
                destination=owner,
                path=path,
                interface=AGENT_INTERFACE,
                member=member,
                flags=MessageFlag.NO_REPLY_EXPECTED,
            )
        )
