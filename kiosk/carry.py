"""What the gateway gives the kiosk so a kader's phone can carry the readings (issue 14).

The kit has no network; the kader's phone goes online every day. On the kit's Wi-Fi the phone
takes the sealed bundles of every unconfirmed reading (`Carry.export`: gateway.bundles behind
it), carries them to central and brings central's signed receipt back (`Carry.apply_receipt`).
The kiosk only passes bytes through: a bundle is encrypted to central and a receipt names
reading ids, so neither shows the phone anything about a resident. The pages: routes_carry.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CarriedBundle:
    """One sealed bundle file for the phone to carry (gateway.bundles.ExportedBundle)."""

    name: str
    data: bytes
    count: int
    chunk: int
    chunks: int
    export_id: str


@dataclass(frozen=True, slots=True)
class ReceiptApplied:
    confirmed: int  # marked confirmed now
    already: int  # confirmed before (an earlier receipt, or over MQTT)
    unknown: int  # not in this outbox (purged, or another kit's reading)
    bundle_sha256: str


class CarryError(Exception):
    """A bundle could not be made or a receipt was refused; `key` is the kader's i18n text,
    `detail` the technical reason (for the log and the operator)."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key
        self.detail = detail


class Carry(Protocol):
    """Both calls read or write the outbox file and do crypto: they must not block the loop."""

    @property
    def gateway_id(self) -> str: ...

    async def export(self) -> list[CarriedBundle]: ...

    async def apply_receipt(self, data: bytes) -> ReceiptApplied: ...
