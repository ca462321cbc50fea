"""Exception root for everything in drivers/."""

from __future__ import annotations


class DriverError(Exception):
    """Root of all driver errors."""


class DecodeError(DriverError):
    """The peer sent bytes we cannot decode. Carries the bytes and the reason."""

    def __init__(self, reason: str, data: bytes = b"", offset: int | None = None) -> None:
        self.reason = reason
        self.data = bytes(data)
        self.offset = offset
        where = f" at offset {offset}" if offset is not None else ""
        super().__init__(f"{reason}{where} (data: {self.data.hex(' ') or 'empty'})")


class UsageError(DriverError):
    """We misused a codec or session (a bug on our side, not the device's)."""


class DeviceSessionError(DriverError):
    """A device session failed (link lost, timeout, protocol refused). Retry later."""


class DeviceUnavailableError(DeviceSessionError):
    """The transport itself is missing (no BlueZ/D-Bus, no serial port). Says what to do."""
