"""Readings as central receives them, for the store's tests."""

from __future__ import annotations

from central.store import Incoming
from core.payload import encode_reading
from tests.support.harness import make_reading


def incoming(n: int, gateway_id: str = "gw-001") -> Incoming:
    reading = make_reading(n, gateway_id=gateway_id)
    return Incoming(
        id=reading.id,
        gateway_id=reading.gateway_id,
        kind=reading.kind.value,
        measured_at=reading.measured_at.isoformat(),
        payload=encode_reading(reading).decode(),
    )
