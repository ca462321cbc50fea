"""Central's reading store: exactly-once by reading id, in any SQL database SQLAlchemy speaks.

SQLite is the default (one file, nothing to install); a PostgreSQL URL works the same because
the insert uses the dialect's own ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

metadata = sa.MetaData()
readings = sa.Table(
    "readings",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("gateway_id", sa.String(100), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("measured_at", sa.String(32), nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
)
dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("topic", sa.String(300), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Incoming:
    id: str
    gateway_id: str
    kind: str
    measured_at: str
    payload: str


class CentralStore:
    def __init__(self, url: str) -> None:
        connect_args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        self.engine: Engine = sa.create_engine(url, connect_args=connect_args)
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        metadata.create_all(self.engine)

    def _insert(self) -> sa.Insert:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(readings).on_conflict_do_nothing(index_elements=["id"])
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(readings).on_conflict_do_nothing(index_elements=["id"])

    def store(self, batch: Sequence[Incoming]) -> list[str]:
        """Store readings; returns the ids that were new (the rest were duplicates)."""
        if not batch:
            return []
        now = time.time()
        ids = [r.id for r in batch]
        with self.engine.begin() as conn:
            known = set(
                conn.execute(sa.select(readings.c.id).where(readings.c.id.in_(ids))).scalars()
            )
            fresh: dict[str, Incoming] = {}
            for r in batch:
                if r.id not in known and r.id not in fresh:
                    fresh[r.id] = r
            if fresh:
                conn.execute(
                    self._insert(),
                    [
                        {
                            "id": r.id,
                            "gateway_id": r.gateway_id,
                            "kind": r.kind,
                            "measured_at": r.measured_at,
                            "received_at": now,
                            "payload": r.payload,
                        }
                        for r in fresh.values()
                    ],
                )
        return list(fresh)

    def dead_letter(self, topic: str, payload: bytes, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                dead_letters.insert(),
                {
                    "topic": topic,
                    "payload": payload,
                    "reason": reason[:500],
                    "received_at": time.time(),
                },
            )

    def dead_letter_many(self, letters: Sequence[tuple[str, bytes, str]]) -> None:
        """Keep (topic, payload, reason) of messages central will not store, in one commit."""
        if not letters:
            return
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(
                dead_letters.insert(),
                [
                    {"topic": t[:300], "payload": p, "reason": r[:500], "received_at": now}
                    for t, p, r in letters
                ],
            )

    def dead_letter_reasons(self) -> list[tuple[str, str]]:
        """(topic, reason) of every dead letter, oldest first."""
        with self.engine.connect() as conn:
            query = sa.select(dead_letters.c.topic, dead_letters.c.reason).order_by(
                dead_letters.c.n
            )
            return [(str(t), str(r)) for t, r in conn.execute(query).all()]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(readings)).scalar_one())

    def ids(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(readings.c.id)).scalars())

    def dead_letter_count(self) -> int:
        with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(dead_letters)
            return int(conn.execute(query).scalar_one())

    def close(self) -> None:
        self.engine.dispose()
