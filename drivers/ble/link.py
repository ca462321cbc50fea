"""The BLE link: moves bytes between a device session and one peripheral. Nothing more.

A thin layer over bleak's public API (`BleakScanner`, `BleakClient`) and
`bleak_retry_connector.establish_connection`, with the backend injectable (a simulated backend in
tests and the demo) and the retry policy injectable (bleak-retry-connector alone may spend 9 x 4 s
on a device that is not found; tests must not wait that long, and a supervisor that owns
reconnects does not want it either). The link never interprets a payload.

Errors are translated at this edge into `drivers.errors`:
- no D-Bus (`FileNotFoundError`) or no bluetoothd (`BleakDBusError ... org.bluez was not
  provided`) -> `DeviceUnavailableError` with what to do;
- the device not advertising, connect failures, a lost link -> `DeviceSessionError`;
- an ATT error answer -> `AttError` (a `DeviceSessionError` carrying the ATT code).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakDBusError, BleakError, BleakGATTProtocolError
from bleak_retry_connector import establish_connection

from drivers.ble.uuids import normalize_uuid
from drivers.errors import DeviceSessionError, DeviceUnavailableError

_LOGGER = logging.getLogger(__name__)

NO_BLUEZ_ADVICE = (
    "Bluetooth is not available on this machine: {detail}. Check that D-Bus and bluetoothd run "
    "(`systemctl status bluetooth`), that an adapter is present (`bluetoothctl list`) and that "
    "the gateway user may talk to org.bluez (group `bluetooth`)."
)

NotifyHandler = Callable[[str, bytes], None]
Sleep = Callable[[float], Awaitable[None]]


class AttError(DeviceSessionError):
    """The peripheral answered an operation with an ATT error (e.g. 0x80 procedure busy)."""

    def __init__(self, code: int, operation: str, uuid: str) -> None:
        self.code = code
        self.operation = operation
        self.uuid = uuid
        super().__init__(f"{operation} {uuid}: ATT error 0x{code:02x}")


class LinkLostError(DeviceSessionError):
    """The link went down while the session still needed it."""


class LinkObserver(Protocol):
    """Sees every byte crossing a link (the capture recorder is one)."""

    def on_open(self, link: BleLink) -> None: ...

    def on_traffic(self, op: str, uuid: str, data: bytes) -> None: ...

    def on_close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ConnectPolicy:
    """How hard `open_link` tries. Defaults suit a kiosk; tests shrink every number."""

    scan_timeout_s: float = 10.0  # wait this long for the device to advertise
    attempts: int = 3  # connection attempts after the device was seen
    backoff_s: float = 2.0  # pause between attempts (the one place a retry delay is chosen)
    attempt_timeout_s: float = 30.0  # one connect attempt, including bleak-retry's own retries


def is_no_bluez(exc: BaseException) -> bool:
    """True for the two ways a missing Bluetooth stack shows up (see PLATFORM.md)."""
    if isinstance(exc, FileNotFoundError):
        return True
    return isinstance(exc, BleakDBusError) and "org.bluez was not provided" in str(exc)


@contextmanager
def bluetooth_errors(what: str) -> Iterator[None]:
    """Map a missing Bluetooth stack to DeviceUnavailableError, other bleak errors to
    DeviceSessionError (ATT errors to AttError)."""
    try:
        yield
    except (FileNotFoundError, BleakDBusError) as exc:
        if is_no_bluez(exc):
            raise DeviceUnavailableError(NO_BLUEZ_ADVICE.format(detail=exc)) from exc
        raise DeviceSessionError(f"{what}: {exc}") from exc
    except BleakGATTProtocolError as exc:
        raise AttError(int(exc.code), what, "") from exc
    except BleakError as exc:
        raise DeviceSessionError(f"{what}: {exc}") from exc


async def find_device(
    address: str | None,
    *,
    name_pattern: str | None = None,
    scan_timeout_s: float,
    scanner_backend: type[BaseBleakScanner] | None = None,
) -> BLEDevice:
    """Wait until the device advertises. Raises DeviceSessionError when it does not."""
    if address is None and name_pattern is None:
        raise DeviceSessionError("a BLE device needs an address or a name_pattern")
    pattern = re.compile(name_pattern) if name_pattern else None
    wanted = address.lower() if address else None

    def match(device: BLEDevice, adv: Any) -> bool:
        if wanted is not None:
            return device.address.lower() == wanted
        name = adv.local_name or device.name or ""
        return pattern is not None and pattern.search(name) is not None

    with bluetooth_errors("scan"):
        if scanner_backend is None:
            device = await BleakScanner.find_device_by_filter(match, timeout=scan_timeout_s)
        else:
            device = await BleakScanner.find_device_by_filter(
                match, timeout=scan_timeout_s, backend=scanner_backend
            )
    if device is None:
        raise DeviceSessionError(
            f"{address or name_pattern} is not advertising (waited {scan_timeout_s:g} s); BP "
            "monitors and meters advertise only after a measurement or in pairing mode"
        )
    return device


async def wait_any(events: dict[str, asyncio.Event], timeout_s: float) -> bool:
    """Wait until one of `events` is set; False when `timeout_s` passes first.

    The waiter tasks are cancelled however this returns, also when the caller is cancelled,
    so a session stopped mid-wait leaves nothing pending behind it.
    """
    loop = asyncio.get_running_loop()
    waiters = [loop.create_task(event.wait(), name=name) for name, event in events.items()]
    try:
        done, _ = await asyncio.wait(
            waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)


class BleLink:
    """One connected peripheral. Sessions read, write and subscribe by UUID."""

    def __init__(self, client: BleakClient, name: str) -> None:
        self._client = client
        self.name = name
        self.lost = asyncio.Event()
        self._observers: list[LinkObserver] = []

    @property
    def address(self) -> str:
        return self._client.address

    @property
    def device_name(self) -> str:
        return self._client.name

    @property
    def client(self) -> BleakClient:
        return self._client

    @property
    def is_connected(self) -> bool:
        return self._client.is_connected and not self.lost.is_set()

    def add_observer(self, observer: LinkObserver) -> None:
        self._observers.append(observer)
        observer.on_open(self)

    def _observe(self, op: str, uuid: str, data: bytes) -> None:
        for observer in self._observers:
            observer.on_traffic(op, uuid, data)

    def _on_disconnected(self) -> None:
        if not self.lost.is_set():
            _LOGGER.info("%s: link lost", self.name)
            self.lost.set()
            self._observe("disconnect", "", b"")

    # -- discovery -------------------------------------------------------------------------

    def services(self) -> dict[str, list[tuple[str, list[str]]]]:
        """service uuid -> [(characteristic uuid, properties)]."""
        table: dict[str, list[tuple[str, list[str]]]] = {}
        for service in self._client.services:
            table[service.uuid] = [
                (char.uuid, list(char.properties)) for char in service.characteristics
            ]
        return table

    def has_service(self, uuid: int | str) -> bool:
        return self._client.services.get_service(normalize_uuid(uuid)) is not None

    def has_characteristic(self, uuid: int | str) -> bool:
        return self._client.services.get_characteristic(normalize_uuid(uuid)) is not None

    def properties(self, uuid: int | str) -> list[str]:
        char = self._client.services.get_characteristic(normalize_uuid(uuid))
        return [] if char is None else list(char.properties)

    # -- I/O -------------------------------------------------------------------------------

    def _check(self, what: str) -> None:
        if not self.is_connected:
            raise LinkLostError(f"{self.name}: {what}: link is down")

    async def read(self, uuid: int | str) -> bytes:
        full = normalize_uuid(uuid)
        self._check(f"read {full}")
        with self._errors("read", full):
            data = bytes(await self._client.read_gatt_char(full))
        self._observe("read", full, data)
        return data

    async def write(self, uuid: int | str, data: bytes, *, response: bool = True) -> None:
        full = normalize_uuid(uuid)
        self._check(f"write {full}")
        self._observe("write", full, data)
        with self._errors("write", full):
            await self._client.write_gatt_char(full, data, response=response)

    async def subscribe(self, uuid: int | str, handler: NotifyHandler) -> None:
        full = normalize_uuid(uuid)
        self._check(f"subscribe {full}")
        op = "indicate" if "indicate" in self.properties(full) else "notify"

        def deliver(_char: Any, data: bytearray) -> None:
            payload = bytes(data)
            self._observe(op, full, payload)
            handler(full, payload)

        with self._errors("subscribe", full):
            await self._client.start_notify(full, deliver)

    async def unsubscribe(self, uuid: int | str) -> None:
        """Disable notifications; tolerated after the device has gone (it usually has)."""
        if not self.is_connected:
            return
        full = normalize_uuid(uuid)
        try:
            await self._client.stop_notify(full)
        except BleakError as exc:
            _LOGGER.debug("%s: stop_notify %s after disconnect: %s", self.name, full, exc)

    async def pair(self, **kwargs: Any) -> None:
        with self._errors("pair", ""):
            await self._client.pair(**kwargs)

    async def close(self) -> None:
        try:
            if self._client.is_connected:
                await self._client.disconnect()
        except BleakError as exc:
            _LOGGER.debug("%s: disconnect: %s", self.name, exc)
        finally:
            for observer in self._observers:
                observer.on_close()
            self._observers.clear()

    @contextmanager
    def _errors(self, operation: str, uuid: str) -> Iterator[None]:
        try:
            yield
        except BleakGATTProtocolError as exc:
            raise AttError(int(exc.code), operation, uuid) from exc
        except BleakError as exc:
            if self.lost.is_set() or not self._client.is_connected:
                raise LinkLostError(f"{self.name}: {operation} {uuid}: link lost") from exc
            raise DeviceSessionError(f"{self.name}: {operation} {uuid}: {exc}") from exc


async def open_link(
    name: str,
    *,
    address: str | None = None,
    name_pattern: str | None = None,
    policy: ConnectPolicy | None = None,
    client_backend: type[BaseBleakClient] | None = None,
    scanner_backend: type[BaseBleakScanner] | None = None,
    pair: bool = False,
    sleep: Sleep = asyncio.sleep,
) -> BleLink:
    """Find the device, connect (with bleak-retry-connector), return a link.

    `name` is the operator's device name (for logs). Retries are bounded by `policy`; the last
    failure surfaces as DeviceSessionError (or DeviceUnavailableError without a Bluetooth stack).
    """
    policy = policy or ConnectPolicy()
    device = await find_device(
        address,
        name_pattern=name_pattern,
        scan_timeout_s=policy.scan_timeout_s,
        scanner_backend=scanner_backend,
    )
    holder: list[BleLink] = []

    def disconnected(_client: BleakClient) -> None:
        if holder:
            holder[0]._on_disconnected()

    last: BaseException | None = None
    for attempt in range(1, max(1, policy.attempts) + 1):
        try:
            async with asyncio.timeout(policy.attempt_timeout_s):
                client = await establish_connection(
                    BleakClient,
                    device,
                    name,
                    disconnected_callback=disconnected,
                    max_attempts=1,
                    pair=pair,
                    backend=client_backend,
                )
        except (FileNotFoundError, BleakDBusError) as exc:
            if is_no_bluez(exc):
                raise DeviceUnavailableError(NO_BLUEZ_ADVICE.format(detail=exc)) from exc
            last = exc
        except (BleakError, TimeoutError) as exc:
            last = exc
        else:
            link = BleLink(client, name)
            holder.append(link)
            return link
        _LOGGER.info("%s: connect attempt %d/%d failed: %s", name, attempt, policy.attempts, last)
        if attempt < policy.attempts:
            await sleep(policy.backoff_s)
    raise DeviceSessionError(
        f"{name}: could not connect after {policy.attempts} attempt(s): {last}. Is the device "
        "in range and not connected to a phone? Try again after a new measurement."
    ) from last
