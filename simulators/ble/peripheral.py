"""A generic simulated GATT peripheral, hosted by the simulated bleak backend.

A peripheral declares services and characteristics (with their properties), answers reads and
writes through handlers, and pushes notifications/indications to whichever central subscribed.
It can require a bond before protected characteristics may be touched, and can drop the link on
its own, as real meters do right after they finished sending.

Device behaviour (a BP monitor sending its memory, a glucose meter answering RACP) lives in
subclasses in `devices.py`; the backend only moves bytes between bleak and this object. Errors a
real stack would report as ATT errors are raised as `bleak.exc.BleakGATTProtocolError`, the
exception bleak's own BlueZ backend raises, so a session sees the same types as on hardware.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from bleak.exc import BleakError, BleakGATTProtocolError, BleakGATTProtocolErrorCode
from bleak.uuids import normalize_uuid_str

_LOGGER = logging.getLogger(__name__)

ReadHandler = Callable[[], Awaitable[bytes]]
WriteHandler = Callable[[bytes, bool], Awaitable[None]]
DeliverCallback = Callable[[bytearray], None]

# ATT application error used by GLS/BLS for "procedure already in progress".
ATT_PROCEDURE_ALREADY_IN_PROGRESS = 0x80
ATT_CCCD_IMPROPERLY_CONFIGURED = 0x81


def uuid_of(short_or_full: str | int) -> str:
    """Full lower-case 128-bit UUID from a 16-bit int, "2a35" or a full UUID string."""
    if isinstance(short_or_full, int):
        return normalize_uuid_str(f"{short_or_full:04x}")
    return normalize_uuid_str(short_or_full)


@dataclass(slots=True)
class Characteristic:
    uuid: str
    properties: tuple[str, ...]
    value: bytes = b""
    on_read: ReadHandler | None = None
    on_write: WriteHandler | None = None
    secure: bool = False  # needs an encrypted (bonded) link

    def __post_init__(self) -> None:
        self.uuid = uuid_of(self.uuid)


@dataclass(slots=True)
class Service:
    uuid: str
    characteristics: list[Characteristic] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.uuid = uuid_of(self.uuid)


class CentralLink:
    """The peripheral's side of one connection to one central (one bleak client backend).

    Holds the subscriptions the central made and the callback for an unsolicited disconnect.
    """

    def __init__(self, on_lost: Callable[[], None]) -> None:
        self.connected = True
        self.subscriptions: dict[str, DeliverCallback] = {}
        self._on_lost = on_lost

    def lost(self) -> None:
        if not self.connected:
            return
        self.connected = False
        self.subscriptions.clear()
        self._on_lost()

    def closed_by_central(self) -> None:
        self.connected = False
        self.subscriptions.clear()


class GattPeripheral:
    """A simulated BLE peripheral: services, handlers, subscriptions, bond and link state."""

    def __init__(
        self,
        *,
        address: str,
        name: str,
        services: Iterable[Service] = (),
        advertised_services: Iterable[str] = (),
        requires_bond: bool = False,
        passkey: str | None = None,
        connect_latency_s: float = 0.0,
        rssi: int = -60,
    ) -> None:
        self.address = address.upper()
        self.name = name
        self.services: list[Service] = list(services)
        self.advertised_services = [uuid_of(u) for u in advertised_services]
        self.requires_bond = requires_bond
        self.passkey = passkey
        self.connect_latency_s = connect_latency_s
        self.rssi = rssi
        self.advertising = True
        # Field fault: the next N connection attempts fail (a meter busy or out of range).
        self.refuse_connects = 0
        self.bonded = False
        self.connections = 0  # how many times a central connected (for tests and the demo)
        self.subscription_log: list[str] = []  # characteristic UUIDs in subscription order
        self._link: CentralLink | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- GATT table -------------------------------------------------------------------------

    def add_service(self, service: Service) -> Service:
        self.services.append(service)
        return service

    def characteristic(self, uuid: str | int) -> Characteristic:
        wanted = uuid_of(uuid)
        for service in self.services:
            for char in service.characteristics:
                if char.uuid == wanted:
                    return char
        raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.ATTRIBUTE_NOT_FOUND)

    def has_characteristic(self, uuid: str | int) -> bool:
        wanted = uuid_of(uuid)
        return any(c.uuid == wanted for s in self.services for c in s.characteristics)

    # -- link state -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.connected

    async def accept(self, on_lost: Callable[[], None]) -> CentralLink:
        """A central connects. Raises the way bleak does when the device is gone or busy."""
        if not self.advertising:
            raise BleakError(f"Device with address {self.address} was not found.")
        if self.connected:
            raise BleakError(f"{self.address}: already connected to another central")
        if self.connect_latency_s:
            await asyncio.sleep(self.connect_latency_s)
        if self.refuse_connects > 0:
            self.refuse_connects -= 1
            # Said at INFO: bleak-retry-connector retries such failures silently (DEBUG).
            _LOGGER.info("%s: connection refused by the simulated device (fault; %d more)",
                         self.name, self.refuse_connects)
            # What BlueZ reports when the peripheral does not answer the connection request.
            raise BleakError(
                f"{self.address}: le-connection-abort-by-local "
                "(connection refused by the simulated device)"
            )
        self._link = CentralLink(on_lost)
        self.connections += 1
        await self.on_connect()
        return self._link

    async def central_disconnected(self, link: CentralLink) -> None:
        if link is not self._link:
            return
        link.closed_by_central()
        self._link = None
        self.cancel_tasks()
        await self.on_disconnect()

    def drop_link(self) -> None:
        """Unsolicited disconnect from the peripheral's side (meters do this when done)."""
        link = self._link
        self._link = None
        if link is not None:
            _LOGGER.debug("%s: peripheral drops the link", self.name)
            link.lost()
        self.cancel_tasks()
        self.on_dropped()

    async def pair(self, passkey: str | None = None) -> None:
        if self.passkey is not None and passkey != self.passkey:
            # BlueZ reports a failed passkey as an authentication failure.
            raise BleakError(f"{self.address}: Authentication Failed (wrong or missing passkey)")
        self.bonded = True

    async def unpair(self) -> None:
        self.bonded = False

    # -- GATT operations (called by the backend) ------------------------------------------

    def _check_access(self, char: Characteristic, prop: Iterable[str]) -> None:
        if not self.connected:
            raise BleakError("Not connected")
        if not any(p in char.properties for p in prop):
            code = (
                BleakGATTProtocolErrorCode.READ_NOT_PERMITTED
                if "read" in prop
                else BleakGATTProtocolErrorCode.WRITE_NOT_PERMITTED
            )
            raise BleakGATTProtocolError(code)
        if char.secure and not self.bonded:
            raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.INSUFFICIENT_AUTHENTICATION)

    async def read(self, uuid: str) -> bytes:
        char = self.characteristic(uuid)
        self._check_access(char, ("read",))
        if char.on_read is not None:
            return await char.on_read()
        return char.value

    async def write(self, uuid: str, data: bytes, response: bool) -> None:
        char = self.characteristic(uuid)
        self._check_access(char, ("write", "write-without-response"))
        if char.on_write is not None:
            await char.on_write(data, response)
        else:
            char.value = data

    async def subscribe(self, uuid: str, callback: DeliverCallback) -> None:
        char = self.characteristic(uuid)
        if not self.connected or self._link is None:
            raise BleakError("Not connected")
        if "notify" not in char.properties and "indicate" not in char.properties:
            raise BleakError(f"Characteristic {char.uuid} does not support notify or indicate")
        if char.secure and not self.bonded:
            raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.INSUFFICIENT_AUTHENTICATION)
        self._link.subscriptions[char.uuid] = callback
        self.subscription_log.append(char.uuid)
        await self.on_subscribe(char.uuid)

    async def unsubscribe(self, uuid: str) -> None:
        if not self.connected or self._link is None:
            raise BleakError("Not connected")
        self._link.subscriptions.pop(uuid_of(uuid), None)

    def subscribed(self, uuid: str | int) -> bool:
        return self._link is not None and uuid_of(uuid) in self._link.subscriptions

    def cccd_value(self, uuid: str) -> bytes:
        if not self.subscribed(uuid):
            return b"\x00\x00"
        char = self.characteristic(uuid)
        return b"\x01\x00" if "notify" in char.properties else b"\x02\x00"

    # -- server-initiated traffic -----------------------------------------------------------

    def notify(self, uuid: str | int, data: bytes) -> bool:
        """Send a notification; False when nobody is subscribed (a real device drops it too)."""
        link = self._link
        if link is None or not link.connected:
            return False
        callback = link.subscriptions.get(uuid_of(uuid))
        if callback is None:
            return False
        callback(bytearray(data))
        return True

    async def indicate(self, uuid: str | int, data: bytes) -> bool:
        """Send an indication and wait for the central's confirmation (one loop turn here:
        BlueZ confirms by itself once the value is handed to the application)."""
        sent = self.notify(uuid, data)
        await asyncio.sleep(0)
        return sent

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run device behaviour in a task owned by this peripheral (cancelled on disconnect)."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("%s: behaviour task %s failed", self.name, task.get_name(),
                          exc_info=task.exception())

    def cancel_tasks(self) -> None:
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()

    async def aclose(self) -> None:
        """Stop every behaviour task and wait for them (test and demo teardown)."""
        if self._link is not None:
            self._link.closed_by_central()
            self._link = None
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- hooks for device models ------------------------------------------------------------

    async def on_connect(self) -> None:
        """A central connected."""

    async def on_disconnect(self) -> None:
        """The central disconnected."""

    def on_dropped(self) -> None:
        """We dropped the link ourselves."""

    async def on_subscribe(self, uuid: str) -> None:
        """The central enabled notifications/indications on `uuid`."""
