"""A bleak backend whose "radio" is an in-process `Air` holding simulated peripherals.

`BleakClient(address, backend=air.client_backend())` and
`BleakScanner(backend=air.scanner_backend())` run bleak's real public API (service lookup,
callback wrapping, CCCD rules) against `GattPeripheral` objects. Each `Air` makes its own backend
subclasses carrying a reference to itself, so tests inject an air per test and nothing global
has to be patched.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar, Literal, TypeVar

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import (
    AdvertisementData,
    AdvertisementDataCallback,
    BaseBleakScanner,
)
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bleak.uuids import normalize_uuid_16

from core.tasks import cancel_and_wait
from simulators.ble.peripheral import CentralLink, GattPeripheral

_LOGGER = logging.getLogger(__name__)

_CCCD_UUID = normalize_uuid_16(0x2902)
_P = TypeVar("_P", bound=GattPeripheral)
_DEFAULT_MTU = 185


class Air:
    """The simulated radio neighbourhood: which peripherals exist and advertise."""

    def __init__(self, *, advertise_interval_s: float = 0.02) -> None:
        self._peripherals: dict[str, GattPeripheral] = {}
        self.advertise_interval_s = advertise_interval_s
        self._client_cls: type[SimulatedBleakClient] | None = None
        self._scanner_cls: type[SimulatedBleakScanner] | None = None

    def add(self, peripheral: _P) -> _P:
        self._peripherals[peripheral.address.upper()] = peripheral
        return peripheral

    def remove(self, address: str) -> None:
        self._peripherals.pop(address.upper(), None)

    def get(self, address: str) -> GattPeripheral | None:
        return self._peripherals.get(address.upper())

    @property
    def peripherals(self) -> list[GattPeripheral]:
        return list(self._peripherals.values())

    def client_backend(self) -> type[BaseBleakClient]:
        """A `BaseBleakClient` subclass bound to this air, for `BleakClient(backend=...)`."""
        if self._client_cls is None:
            self._client_cls = type(
                "SimulatedBleakClient", (SimulatedBleakClient,), {"air": self}
            )
        return self._client_cls

    def scanner_backend(self) -> type[BaseBleakScanner]:
        """A `BaseBleakScanner` subclass bound to this air, for `BleakScanner(backend=...)`."""
        if self._scanner_cls is None:
            self._scanner_cls = type(
                "SimulatedBleakScanner", (SimulatedBleakScanner,), {"air": self}
            )
        return self._scanner_cls

    async def aclose(self) -> None:
        for peripheral in self.peripherals:
            await peripheral.aclose()


def _air_of(cls: type[SimulatedBleakClient] | type[SimulatedBleakScanner]) -> Air:
    if cls.air is None:
        raise BleakError(
            "simulated backend used without an Air: use air.client_backend() / "
            "air.scanner_backend() instead of the base classes"
        )
    return cls.air


class SimulatedBleakClient(BaseBleakClient):
    """Client backend talking to a `GattPeripheral` in the bound `Air`."""

    air: ClassVar[Air | None] = None
    # pair.py may pass a passkey only to backends that can take one.
    supports_passkey: ClassVar[bool] = True

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=kwargs.get("disconnected_callback"),
            timeout=float(kwargs.get("timeout", 10.0)),
        )
        self._peripheral: GattPeripheral | None = None
        self._link: CentralLink | None = None

    @property
    def name(self) -> str:
        air = _air_of(type(self))
        peripheral = self._peripheral or air.get(self.address)
        return peripheral.name if peripheral is not None else self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return _DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._link is not None and self._link.connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        peripheral = _air_of(type(self)).get(self.address)
        if peripheral is None or not peripheral.advertising:
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found."
            )
        self._link = await peripheral.accept(self._on_lost)
        self._peripheral = peripheral
        self.services = _service_collection(peripheral)
        if pair:
            await self.pair()

    def _on_lost(self) -> None:
        _LOGGER.debug("%s: link lost (peripheral disconnected)", self.address)
        self._link = None
        if self._disconnected_callback is not None:
            # bleak schedules this on the loop; a direct call would re-enter the session
            # from inside the peripheral's send path.
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def disconnect(self) -> None:
        link, peripheral = self._link, self._peripheral
        self._link = None
        if link is not None and peripheral is not None and link.connected:
            await peripheral.central_disconnected(link)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        peripheral = self._require_peripheral()
        passkey = kwargs.get("passkey")
        await peripheral.pair(None if passkey is None else str(passkey))

    async def unpair(self) -> None:
        await self._require_peripheral().unpair()

    def _require_peripheral(self) -> GattPeripheral:
        if self._peripheral is None:
            peripheral = _air_of(type(self)).get(self.address)
            if peripheral is None:
                raise BleakDeviceNotFoundError(self.address, "device not found")
            self._peripheral = peripheral
        return self._peripheral

    def _connected_peripheral(self) -> GattPeripheral:
        if not self.is_connected or self._peripheral is None:
            raise BleakError("Not connected")
        return self._peripheral

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        data = await self._connected_peripheral().read(characteristic.uuid)
        return bytearray(data)

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peripheral = self._connected_peripheral()
        if descriptor.uuid != _CCCD_UUID:
            raise BleakError(f"descriptor {descriptor.uuid} is not simulated")
        return bytearray(peripheral.cccd_value(descriptor.characteristic_uuid))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        await self._connected_peripheral().write(characteristic.uuid, bytes(data), response)

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        self._connected_peripheral()
        raise BleakError("writing descriptors is not simulated; use start_notify/stop_notify")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        await self._connected_peripheral().subscribe(characteristic.uuid, callback)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        await self._connected_peripheral().unsubscribe(characteristic.uuid)


def _service_collection(peripheral: GattPeripheral) -> BleakGATTServiceCollection:
    collection = BleakGATTServiceCollection()
    handle = 1
    for service in peripheral.services:
        bleak_service = BleakGATTService(None, handle, service.uuid)
        collection.add_service(bleak_service)
        handle += 1
        for char in service.characteristics:
            bleak_char = BleakGATTCharacteristic(
                None,
                handle,
                char.uuid,
                list(char.properties),  # type: ignore[arg-type]  # bleak's Literal names
                lambda: _DEFAULT_MTU - 3,
                bleak_service,
            )
            collection.add_characteristic(bleak_char)
            handle += 2  # declaration + value
            if "notify" in char.properties or "indicate" in char.properties:
                collection.add_descriptor(
                    BleakGATTDescriptor(None, handle, _CCCD_UUID, bleak_char)
                )
                handle += 1
    return collection


class SimulatedBleakScanner(BaseBleakScanner):
    """Scanner backend that keeps reporting every advertising peripheral of the bound air."""

    air: ClassVar[Air | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.seen_devices = {}
        air = _air_of(type(self))
        self._task = asyncio.get_running_loop().create_task(
            self._advertise(air), name="simulated-ble-scanner"
        )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _advertise(self, air: Air) -> None:
        # Keep advertising: bleak's find_device_* registers its callback only after start().
        while True:
            for peripheral in air.peripherals:
                if peripheral.advertising and not peripheral.connected:
                    self._report(peripheral)
            await asyncio.sleep(air.advertise_interval_s)

    def _report(self, peripheral: GattPeripheral) -> None:
        uuids = list(peripheral.advertised_services)
        if not self.is_allowed_uuid(uuids):
            return
        adv = AdvertisementData(
            local_name=peripheral.name,
            manufacturer_data={},
            service_data={},
            service_uuids=uuids,
            tx_power=None,
            rssi=peripheral.rssi,
            platform_data=(),
        )
        device = self.create_or_update_device(
            peripheral.address, peripheral.address, peripheral.name, None, adv
        )
        self.call_detection_callbacks(device, adv)

