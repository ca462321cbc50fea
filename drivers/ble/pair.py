"""Bonding with a BLE meter, as far as bleak's public API allows.

What works through bleak (`BleakClient.pair()`):
- "Just Works" bonding (Contour Next One, A&D UA-651BLE in "Pr" mode, i-SENS): BlueZ pairs
  without user interaction and keeps the bond; later sessions find it already paired.
- A simulated backend that declares `supports_passkey = True` takes the passkey directly.

What needs `bluetoothctl` on a real gateway (BlueZ), because bleak registers no pairing agent
and cannot hand BlueZ a passkey (Roche Accu-Chek shows a 6-digit PIN that the central must
type in):

    $ bluetoothctl
    [bluetooth]# agent KeyboardDisplay
    [bluetooth]# default-agent
    [bluetooth]# scan on                 # meter in pairing mode
    [bluetooth]# pair 60:77:71:64:00:01  # type the PIN shown on the meter when asked
    [bluetooth]# trust 60:77:71:64:00:01

After that the gateway's sessions find the device paired. `pair()` below refuses a passkey it
cannot deliver instead of pretending to have used it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner

from drivers.ble.link import BleLink, ConnectPolicy, open_link
from drivers.errors import DeviceSessionError, UsageError

_LOGGER = logging.getLogger(__name__)

BLUETOOTHCTL_ADVICE = (
    "bleak cannot give BlueZ a passkey: pair once with bluetoothctl "
    "(`agent KeyboardDisplay`, `default-agent`, `pair {address}`, type the PIN shown on the "
    "meter, `trust {address}`), then the gateway finds the bond"
)


@dataclass(frozen=True, slots=True)
class PairResult:
    address: str
    name: str
    bonded: bool
    passkey_used: bool


def backend_takes_passkey(client_backend: type[BaseBleakClient] | None) -> bool:
    return bool(getattr(client_backend, "supports_passkey", False))


async def bond(
    link: BleLink,
    *,
    passkey: str | None = None,
    client_backend: type[BaseBleakClient] | None = None,
) -> bool:
    """Bond on an open link. Returns True when a passkey was handed to the backend.

    With a passkey and a backend that cannot take one, raises UsageError with the
    bluetoothctl procedure. A refused bond raises DeviceSessionError (from the link).
    """
    if passkey is not None and not backend_takes_passkey(client_backend):
        raise UsageError(BLUETOOTHCTL_ADVICE.format(address=link.address))
    try:
        if passkey is not None:
            await link.pair(passkey=passkey)
        else:
            await link.pair()
    except DeviceSessionError as exc:
        raise DeviceSessionError(
            f"{link.name}: bonding failed ({exc}). Put the meter in pairing mode; if it shows a "
            "PIN, " + BLUETOOTHCTL_ADVICE.format(address=link.address)
        ) from exc
    return passkey is not None


async def pair(
    address: str,
    *,
    passkey: str | None = None,
    policy: ConnectPolicy | None = None,
    client_backend: type[BaseBleakClient] | None = None,
    scanner_backend: type[BaseBleakScanner] | None = None,
) -> PairResult:
    """Connect to `address` and bond (for `gempita devices pair`).

    Raises DeviceUnavailableError without a Bluetooth stack, UsageError for a passkey the
    backend cannot take, DeviceSessionError when the device is absent or refuses.
    """
    link = await open_link(
        address,
        address=address,
        policy=policy,
        client_backend=client_backend,
        scanner_backend=scanner_backend,
    )
    try:
        used = await bond(link, passkey=passkey, client_backend=client_backend)
        _LOGGER.info("%s: bonded", address)
        return PairResult(link.address, link.device_name, True, used)
    finally:
        await link.close()
