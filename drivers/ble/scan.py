"""Discover BLE meters nearby (`gempita devices scan`).

Scans with service filters for Blood Pressure (0x1810) and Glucose (0x1808), and reports the
profile each device advertises plus the quirk family its name suggests (DIS strings are only
known after connecting, so a name-less quirk match may come later, in a session).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from core.reading import Kind
from drivers.ble import uuids
from drivers.ble.link import bluetooth_errors
from drivers.ble.quirks import match_quirk

_LOGGER = logging.getLogger(__name__)

SERVICE_FILTER = [
    uuids.uuid_str(uuids.BLOOD_PRESSURE_SERVICE),
    uuids.uuid_str(uuids.GLUCOSE_SERVICE),
]


@dataclass(frozen=True, slots=True)
class FoundDevice:
    address: str
    name: str | None
    rssi: int
    profile: Kind | None  # from the advertised service UUIDs
    quirk: str | None  # quirk family suggested by name/services, if any
    services: tuple[str, ...]


def _profile(services: list[str]) -> Kind | None:
    if uuids.uuid_str(uuids.BLOOD_PRESSURE_SERVICE) in services:
        return Kind.BLOOD_PRESSURE
    if uuids.uuid_str(uuids.GLUCOSE_SERVICE) in services:
        return Kind.GLUCOSE
    return None


async def scan(
    timeout: float, backend: type[BaseBleakScanner] | None = None  # noqa: ASYNC109
) -> list[FoundDevice]:
    """Scan for `timeout` seconds; devices sorted by signal strength (strongest first).

    `timeout` is the scan duration, not a limit on a waiting operation, hence the name.
    Raises DeviceUnavailableError without a Bluetooth stack (no D-Bus / no bluetoothd).
    """
    found: dict[str, tuple[BLEDevice, AdvertisementData]] = {}

    def seen(device: BLEDevice, adv: AdvertisementData) -> None:
        found[device.address] = (device, adv)

    with bluetooth_errors("scan"):
        if backend is None:
            scanner = BleakScanner(seen, service_uuids=SERVICE_FILTER)
        else:
            scanner = BleakScanner(seen, service_uuids=SERVICE_FILTER, backend=backend)
        async with scanner:
            await asyncio.sleep(timeout)
    out: list[FoundDevice] = []
    for device, adv in found.values():
        services = [uuids.normalize_uuid(s) for s in adv.service_uuids]
        name = adv.local_name or device.name
        quirk = match_quirk(name, None, None, services)
        out.append(
            FoundDevice(
                address=device.address,
                name=name,
                rssi=adv.rssi,
                profile=_profile(services),
                quirk=quirk.name if quirk else None,
                services=tuple(services),
            )
        )
    _LOGGER.debug("scan found %d meter(s)", len(out))
    return sorted(out, key=lambda d: d.rssi, reverse=True)
