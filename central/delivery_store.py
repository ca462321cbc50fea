"""Per-reading SATUSEHAT delivery state: the `fhir_delivery` table and its queries.

A reading with no row here has never been tried; the worker's queue is those plus `queued`
rows whose next attempt is due. One row per reading (its id is the key), so a state change
is an upsert and a re-run of the worker can never give a reading two states.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from central.records import StoredReading
from central.store import metadata, readings

REASON_MAX = 1000
SERVER_ID_MAX = 500


class DeliveryState(StrEnum):
    QUEUED = "queued"
    ACCEPTED = "accepted"
    FAILED = "failed"
    SKIPPED = "skipped"


# On the store's metadata, so the models and the migrations are compared as one schema.
fhir_delivery = sa.Table(
    "fhir_delivery",
    metadata,
    sa.Column("reading_id", sa.String(64), sa.ForeignKey("readings.id"), primary_key=True),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("server_id", sa.String(SERVER_ID_MAX), nullable=True),
    sa.Column("reason", sa.String(REASON_MAX), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.Float, nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_fhir_delivery_state_next", "state", "next_attempt_at"),
)


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    reading_id: str
    state: DeliveryState
    server_id: str | None
    reason: str | None
    attempts: int
    next_attempt_at: float | None
    updated_at: float


class DeliveryStore:
    """The delivery table on central's engine (the CentralStore's: it has migrated it)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def due(self, now: float, limit: int) -> list[StoredReading]:
        """Up to `limit` readings to send now, oldest received first."""
        r, d = readings, fhir_delivery
        query = (
            sa.select(
                r.c.id, r.c.gateway_id, r.c.kind, r.c.measured_at, r.c.received_at, r.c.payload
            )
            .select_from(r.outerjoin(d, d.c.reading_id == r.c.id))
            .where(
                sa.or_(
                    d.c.reading_id.is_(None),
                    sa.and_(
                        d.c.state == DeliveryState.QUEUED.value,
                        sa.or_(d.c.next_attempt_at.is_(None), d.c.next_attempt_at <= now),
                    ),
                )
            )
            .order_by(r.c.received_at, r.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                StoredReading(
                    id=str(row.id),
                    gateway_id=str(row.gateway_id),
                    kind=str(row.kind),
                    measured_at=str(row.measured_at),
                    received_at=float(row.received_at),
                    payload=str(row.payload),
                )
                for row in conn.execute(query)
            ]

    def mark_accepted(self, accepted: Iterable[tuple[str, str]], now: float) -> None:
        """(reading id, server id) pairs the server took."""
        self._upsert(
            [
                _row(rid, DeliveryState.ACCEPTED, now, server_id=sid[:SERVER_ID_MAX])
                for rid, sid in accepted
            ]
        )

    def mark_failed(self, failed: Iterable[tuple[str, str]], now: float) -> None:
        """(reading id, reason) pairs the server refused: not tried again."""
        self._upsert([_row(rid, DeliveryState.FAILED, now, reason=why) for rid, why in failed])

    def mark_skipped(self, reading_ids: Iterable[str], now: float) -> None:
        """Readings that are never exported (e.g. control-solution records)."""
        self._upsert([_row(rid, DeliveryState.SKIPPED, now) for rid in reading_ids])

    def mark_queued(
        self, reading_ids: Iterable[str], reason: str, next_attempt_at: float, now: float
    ) -> None:
        """A try that did not get an answer about the readings: try again at next_attempt_at."""
        self._upsert(
            [
                _row(rid, DeliveryState.QUEUED, now, reason=reason, next_attempt_at=next_attempt_at)
                for rid in reading_ids
            ]
        )

    def _upsert(self, rows: Sequence[dict[str, object]]) -> None:
        if not rows:
            return
        copied = ("state", "server_id", "reason", "next_attempt_at", "updated_at")
        tried = fhir_delivery.c.attempts + 1
        stmt: sa.Insert
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            pg = postgresql.insert(fhir_delivery)
            stmt = pg.on_conflict_do_update(
                index_elements=["reading_id"],
                set_={**{c: pg.excluded[c] for c in copied}, "attempts": tried},
            )
        else:
            from sqlalchemy.dialects import sqlite

            lite = sqlite.insert(fhir_delivery)
            stmt = lite.on_conflict_do_update(
                index_elements=["reading_id"],
                set_={**{c: lite.excluded[c] for c in copied}, "attempts": tried},
            )
        with self.engine.begin() as conn:
            conn.execute(stmt, list(rows))

    def counts(self) -> dict[DeliveryState, int]:
        """Readings by delivery state; a reading never tried counts as queued."""
        counts = dict.fromkeys(DeliveryState, 0)
        with self.engine.connect() as conn:
            for state, n in conn.execute(
                sa.select(fhir_delivery.c.state, sa.func.count()).group_by(fhir_delivery.c.state)
            ):
                counts[DeliveryState(state)] = int(n)
            untried = conn.execute(
                sa.select(sa.func.count())
                .select_from(
                    readings.outerjoin(fhir_delivery, fhir_delivery.c.reading_id == readings.c.id)
                )
                .where(fhir_delivery.c.reading_id.is_(None))
            ).scalar_one()
        counts[DeliveryState.QUEUED] += int(untried)
        return counts

    def state(self, reading_id: str) -> DeliveryRow | None:
        """The reading's delivery row; None if it was never tried (or is not stored)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(fhir_delivery).where(fhir_delivery.c.reading_id == reading_id)
            ).one_or_none()
        if row is None:
            return None
        return DeliveryRow(
            reading_id=str(row.reading_id),
            state=DeliveryState(row.state),
            server_id=row.server_id,
            reason=row.reason,
            attempts=int(row.attempts),
            next_attempt_at=row.next_attempt_at,
            updated_at=float(row.updated_at),
        )


def _row(
    reading_id: str,
    state: DeliveryState,
    now: float,
    *,
    server_id: str | None = None,
    reason: str | None = None,
    next_attempt_at: float | None = None,
) -> dict[str, object]:
    return {
        "reading_id": reading_id,
        "state": state.value,
        "server_id": server_id,
        "reason": None if reason is None else reason[:REASON_MAX],
        "attempts": 1,
        "next_attempt_at": next_attempt_at,
        "updated_at": now,
    }
