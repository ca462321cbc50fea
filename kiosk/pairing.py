"""Pairing a meter from the operator page: the types, and the part the gateway injects.

The kiosk app scans, pairs and assigns through the `Pairing` it is handed in
`KioskDeps.pairing`; it never talks to BlueZ itself. The gateway's implementation
(gateway/kiosk_host.py) drives drivers/ble (scan, bond with the BlueZ pairing agent for a
passkey); tests hand it a simulated Bluetooth backend. Every failure reaches the page as a
`PairingError` whose `key` is a kiosk.i18n text, so the operator reads what to do in their
language instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The texts a PairingError may carry (kiosk/i18n.py, operator block).
ERROR_KEYS = (
    "pair_err_no_dbus",  # no system D-Bus at all (bleak: FileNotFoundError)
    "pair_err_no_bluetoothd",  # D-Bus, but nobody provides org.bluez
    "pair_err_permission",  # bluetoothd refuses this user (not in group `bluetooth`)
    "pair_err_not_found",  # the meter is not advertising (pairing mode over, out of range)
    "pair_err_connect",  # seen, but the connection failed
    "pair_err_refused",  # the bond was refused (wrong PIN, pairing mode ended, old bond)
    "pair_err_passkey",  # the passkey typed is not what a meter shows
    "pair_err_failed",  # anything else; the detail says what
)


@dataclass(frozen=True, slots=True)
class FoundMeter:
    address: str
    name: str | None
    kind: str | None  # "blood_pressure" | "glucose"; None when no standard profile is advertised
    rssi: int
    quirk: str | None = None  # device family suggested by the advertised name


@dataclass(frozen=True, slots=True)
class PairedMeter:
    address: str
    name: str
    passkey_used: bool  # False: a "Just Works" meter, or the bond already existed


class PairingError(Exception):
    """A pairing step failed. `key`: one of ERROR_KEYS; `detail`: the technical reason."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key = key
        self.detail = detail


class Pairing(Protocol):
    scan_s: float  # how long one scan listens

    async def scan(self) -> list[FoundMeter]:
        """Meters advertising the BP or glucose profile nearby, strongest signal first."""
        ...

    async def pair(self, address: str, passkey: str | None) -> PairedMeter:
        """Connect and bond (with the PIN the meter shows, if it shows one)."""
        ...

    async def assign(self, address: str, kind: str, name: str | None) -> str:
        """Make sure the gateway reads this meter; returns its device name (for the kiosk's
        `bp_device` / `glucose_device`)."""
        ...
