"""Device Information Service (0x180A): strings, System ID 0x2A23 and PnP ID 0x2A50 (§4.2).

The serial number string is the best stable device key. Strings are decoded leniently: invalid
UTF-8 is replaced rather than rejected (a meter's name is never worth losing its readings), and
trailing NULs and spaces are stripped because several firmwares pad to a fixed length.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import DecodeError, UsageError

SYSTEM_ID_LEN = 8
PNP_ID_LEN = 7

VENDOR_ID_SOURCES = {1: "bluetooth_sig", 2: "usb_if"}


def decode_dis_string(data: bytes) -> str | None:
    """A DIS UTF-8 string with padding removed; None when nothing is left."""
    text = bytes(data).decode("utf-8", errors="replace").rstrip("\x00 ").strip()
    return text or None


def encode_dis_string(text: str) -> bytes:
    return text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class SystemId:
    manufacturer_identifier: int  # 40 bits, manufacturer-defined
    organizationally_unique_identifier: int  # 24-bit OUI

    @property
    def oui_text(self) -> str:
        return f"{self.organizationally_unique_identifier:06X}"


def decode_system_id(data: bytes) -> SystemId:
    data = bytes(data)
    if len(data) < SYSTEM_ID_LEN:
        raise DecodeError(f"System ID needs {SYSTEM_ID_LEN} bytes, got {len(data)}", data, 0)
    return SystemId(int.from_bytes(data[0:5], "little"), int.from_bytes(data[5:8], "little"))


def encode_system_id(value: SystemId) -> bytes:
    if not 0 <= value.manufacturer_identifier < 1 << 40:
        raise UsageError(f"manufacturer identifier exceeds 40 bits: {value!r}")
    if not 0 <= value.organizationally_unique_identifier < 1 << 24:
        raise UsageError(f"OUI exceeds 24 bits: {value!r}")
    return value.manufacturer_identifier.to_bytes(
        5, "little"
    ) + value.organizationally_unique_identifier.to_bytes(3, "little")


@dataclass(frozen=True, slots=True)
class PnpId:
    vendor_id_source: int  # 1 Bluetooth SIG, 2 USB-IF
    vendor_id: int
    product_id: int
    product_version: int

    @property
    def vendor_id_source_name(self) -> str | None:
        return VENDOR_ID_SOURCES.get(self.vendor_id_source)


def decode_pnp_id(data: bytes) -> PnpId:
    data = bytes(data)
    if len(data) < PNP_ID_LEN:
        raise DecodeError(f"PnP ID needs {PNP_ID_LEN} bytes, got {len(data)}", data, 0)
    return PnpId(
        data[0],
        int.from_bytes(data[1:3], "little"),
        int.from_bytes(data[3:5], "little"),
        int.from_bytes(data[5:7], "little"),
    )


def encode_pnp_id(value: PnpId) -> bytes:
    fields = (value.vendor_id, value.product_id, value.product_version)
    if not 0 <= value.vendor_id_source <= 0xFF or any(not 0 <= f <= 0xFFFF for f in fields):
        raise UsageError(f"PnP ID field out of range: {value!r}")
    return bytes([value.vendor_id_source]) + b"".join(f.to_bytes(2, "little") for f in fields)


@dataclass(frozen=True, slots=True)
class DeviceInformation:
    """What a session read from DIS; every field optional, as every characteristic is."""

    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    hardware_revision: str | None = None
    firmware_revision: str | None = None
    software_revision: str | None = None
    system_id: SystemId | None = None
    pnp_id: PnpId | None = None
