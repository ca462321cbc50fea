"""What central keeps of one reading, as the rest of central reads it back."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredReading:
    """One row of `readings`: the payload exactly as the gateway sent it (JSON text)."""

    id: str
    gateway_id: str
    kind: str
    measured_at: str  # RFC 3339, UTC, as in the payload
    received_at: float  # central's clock, seconds since the epoch
    payload: str
