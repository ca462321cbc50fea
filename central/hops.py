"""A reading's receipt at every hop central can see: stored here, then SATUSEHAT's answer.

The hops before central (stored at the gateway, acknowledged by the broker) are the
gateway's to show (`gempita status`); central knows a reading from the moment it stored it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from central.delivery_store import DeliveryState, fhir_delivery
from central.store import dead_letters, readings


@dataclass(frozen=True, slots=True)
class ReadingHops:
    reading_id: str
    gateway_id: str
    kind: str
    measured_at: str
    stored_at: float  # central's clock when it stored the reading (received_at)
    # SATUSEHAT: "queued" also for a reading the worker has not tried yet (attempts 0).
    fhir_state: DeliveryState
    fhir_server_id: str | None
    fhir_reason: str | None
    fhir_attempts: int
    fhir_updated_at: float | None
    fhir_next_attempt_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.reading_id,
            "gateway_id": self.gateway_id,
            "kind": self.kind,
            "measured_at": self.measured_at,
            "stored_at_central": self.stored_at,
            "satusehat": {
                "state": self.fhir_state.value,
                "server_id": self.fhir_server_id,
                "reason": self.fhir_reason,
                "attempts": self.fhir_attempts,
                "updated_at": self.fhir_updated_at,
                "next_attempt_at": self.fhir_next_attempt_at,
            },
        }


@dataclass(frozen=True, slots=True)
class HopCounts:
    stored_at_central: int
    dead_letters: int  # messages central refused to store (unparseable, wrong namespace)
    satusehat: dict[DeliveryState, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "stored_at_central": self.stored_at_central,
            "dead_letters": self.dead_letters,
            "satusehat": {state.value: n for state, n in self.satusehat.items()},
        }


def reading_hops(engine: Engine, reading_id: str) -> ReadingHops | None:
    """Where one reading is; None when central has not stored it."""
    r, d = readings, fhir_delivery
    query = (
        sa.select(
            r.c.id,
            r.c.gateway_id,
            r.c.kind,
            r.c.measured_at,
            r.c.received_at,
            d.c.state,
            d.c.server_id,
            d.c.reason,
            d.c.attempts,
            d.c.updated_at,
            d.c.next_attempt_at,
        )
        .select_from(r.outerjoin(d, d.c.reading_id == r.c.id))
        .where(r.c.id == reading_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).one_or_none()
    if row is None:
        return None
    return ReadingHops(
        reading_id=str(row.id),
        gateway_id=str(row.gateway_id),
        kind=str(row.kind),
        measured_at=str(row.measured_at),
        stored_at=float(row.received_at),
        fhir_state=DeliveryState(row.state) if row.state else DeliveryState.QUEUED,
        fhir_server_id=row.server_id,
        fhir_reason=row.reason,
        fhir_attempts=int(row.attempts or 0),
        fhir_updated_at=row.updated_at,
        fhir_next_attempt_at=row.next_attempt_at,
    )


def hop_counts(engine: Engine) -> HopCounts:
    """How many readings reached each hop, for a status screen."""
    satusehat = dict.fromkeys(DeliveryState, 0)
    with engine.connect() as conn:
        stored = int(conn.execute(sa.select(sa.func.count()).select_from(readings)).scalar_one())
        dead = int(conn.execute(sa.select(sa.func.count()).select_from(dead_letters)).scalar_one())
        for state, n in conn.execute(
            sa.select(fhir_delivery.c.state, sa.func.count()).group_by(fhir_delivery.c.state)
        ):
            satusehat[DeliveryState(state)] = int(n)
    # Stored but never tried yet: waiting for the worker, i.e. queued.
    satusehat[DeliveryState.QUEUED] += stored - sum(satusehat.values())
    return HopCounts(stored_at_central=stored, dead_letters=dead, satusehat=satusehat)
