"""Typed failures of serial sessions.

All derive from `drivers.errors.DeviceSessionError`, so the gateway supervisor retries them with
backoff. Bytes that cannot be decoded stay `drivers.errors.DecodeError` (the codec's error).
"""

from __future__ import annotations

from drivers.errors import DeviceSessionError, DeviceUnavailableError


class SerialLinkError(DeviceSessionError):
    """Root of failures of the serial link itself."""


class LinkLostError(SerialLinkError):
    """The port went away (cable pulled, meter switched off, USB adapter reset)."""


class LinkTimeoutError(SerialLinkError):
    """The meter did not answer in time. Is it switched on and in data-transfer mode?"""


class PortMissingError(DeviceUnavailableError):
    """The configured serial port does not exist (yet): the cable is not plugged in."""


class MeterProtocolError(DeviceSessionError):
    """The meter answered, but not as the protocol says (refused, wrong reply, retries used up)."""


class MeterNotReadyError(MeterProtocolError):
    """The meter answered with a single NUL: it is on (not in data mode) or the cable is loose.
    Switch the meter off, check the cable, try again."""
