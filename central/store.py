"""Central's reading store: exactly-once by reading id, on PostgreSQL (production) or SQLite.

SQLite is the demo's default (one file, nothing to install); PostgreSQL
(`postgresql+psycopg://...`) is the store for a city. Both take the same statements: the
dialect's own `INSERT ... ON CONFLICT DO NOTHING RETURNING id`, so the database's unique key
decides which instance stored a reading, even when several insert it at once. The schema is
Alembic's (central/migrations), brought to head whenever a store is opened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

_LOGGER = logging.getLogger(__name__)

# The first revision is the schema `metadata.create_all` made before there were migrations.
BASELINE_REVISION = "0001"
# Any fixed 64-bit key: instances starting together on one PostgreSQL database take it in
# turn, so exactly one of them migrates and the others find the schema at head.
_MIGRATION_LOCK_KEY = 0x67656D70697461  # "gempita"
# Alembic's `context` and `op` are process-wide proxies: two threads migrating at once would
# run in each other's context.
_MIGRATION_THREAD_LOCK = threading.Lock()

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
    # Data quality counts by when central received a reading, and the cascade's and the
    # worklist's scans read what came since a mark (revision 0007).
    sa.Index("ix_readings_received_at", "received_at"),
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

# Readings received again, per gateway and UTC hour (revision 0007; central/quality.py reads it).
duplicates_received = sa.Table(
    "duplicates_received",
    metadata,
    sa.Column("gateway_id", sa.String(100), primary_key=True),
    sa.Column("hour", sa.BigInteger, primary_key=True),  # epoch seconds, a whole UTC hour
    sa.Column("duplicates", sa.BigInteger, nullable=False),
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
        # SQLite: wait up to 30 s for another opener's migration (BEGIN IMMEDIATE) rather than
        # the driver's 5 s, which a loaded machine exceeded with six revisions to apply.
        connect_args: dict[str, object] = (
            {"check_same_thread": False, "timeout": 30.0} if url.startswith("sqlite") else {}
        )
        self.engine: Engine = sa.create_engine(url, connect_args=connect_args)
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        upgrade_schema(self.engine)

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
        unique: dict[str, Incoming] = {}
        for r in batch:
            unique.setdefault(r.id, r)
        # No SELECT first: another instance may commit the same id between a SELECT and our
        # INSERT, and both would call it new. RETURNING names exactly the rows this statement
        # inserted; a conflicting row (stored before, or by a concurrent transaction that then
        # commits) is skipped and not returned.
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                inserted = self._insert_pg(conn, list(unique.values()), now)
                self._count_duplicates(conn, batch, inserted, now)
                return [i for i in unique if i in inserted]
            inserted = set(
                conn.execute(
                    self._insert().returning(readings.c.id),
                    [
                        {
                            "id": r.id,
                            "gateway_id": r.gateway_id,
                            "kind": r.kind,
                            "measured_at": r.measured_at,
                            "received_at": now,
                            "payload": r.payload,
                        }
                        for r in unique.values()
                    ],
                ).scalars()
            )
            self._count_duplicates(conn, batch, inserted, now)
        return [i for i in unique if i in inserted]

    def _count_duplicates(
        self, conn: Connection, batch: Sequence[Incoming], inserted: set[str], now: float
    ) -> None:
        """Add this batch's duplicates to its gateways' counts for the hour, in the insert's
        transaction; nothing at all when every reading was new (the usual batch).

        A duplicate is every copy in the batch that was not stored by it: one already stored,
        or a second copy within the batch (as CentralStats.duplicates counts them).
        """
        if len(inserted) == len(batch):
            return
        per_gateway: dict[str, int] = {}
        first = set(inserted)
        for r in batch:
            if r.id in first:
                first.discard(r.id)  # the copy that was stored
            else:
                per_gateway[r.gateway_id] = per_gateway.get(r.gateway_id, 0) + 1
        hour = int(now // 3600) * 3600
        rows = [
            {"gateway_id": g, "hour": hour, "duplicates": n} for g, n in sorted(per_gateway.items())
        ]
        # One statement for the batch: a row per gateway that resent, added to the hour's count.
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            pg = postgresql.insert(duplicates_received).values(rows)
            conn.execute(
                pg.on_conflict_do_update(
                    index_elements=["gateway_id", "hour"],
                    set_={"duplicates": duplicates_received.c.duplicates + pg.excluded.duplicates},
                )
            )
            return
        from sqlalchemy.dialects import sqlite

        lite = sqlite.insert(duplicates_received).values(rows)
        conn.execute(
            lite.on_conflict_do_update(
                index_elements=["gateway_id", "hour"],
                set_={"duplicates": duplicates_received.c.duplicates + lite.excluded.duplicates},
            )
        )

    @staticmethod
    def _insert_pg(conn: Connection, rows: list[Incoming], now: float) -> set[str]:
        # One statement over arrays, not SQLAlchemy's executemany: it built a dict and bound
        # six parameters per row and split the batch into statements of a thousand rows, which
        # cost central more CPU per reading than all the rest of its work (bench/RESULTS.md).
        # Binary parameters (%b): a text-format array escapes every quote of every JSON payload
        # with a regular expression. The same ON CONFLICT DO NOTHING RETURNING, so the unique
        # key still decides.
        result = conn.exec_driver_sql(
            "INSERT INTO readings (id, gateway_id, kind, measured_at, received_at, payload) "
            "SELECT i, g, k, m, %(at)s, p FROM unnest("
            "%(ids)b::text[], %(gws)b::text[], %(kinds)b::text[], %(ats)b::text[], "
            "%(payloads)b::text[]) AS t(i, g, k, m, p) "
            "ON CONFLICT (id) DO NOTHING RETURNING id",
            {
                "at": now,
                "ids": [r.id for r in rows],
                "gws": [r.gateway_id for r in rows],
                "kinds": [r.kind for r in rows],
                "ats": [r.measured_at for r in rows],
                "payloads": [r.payload for r in rows],
            },
        )
        return {str(i) for (i,) in result}

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

    def dead_letter_many(
        self, letters: Sequence[tuple[str, bytes, str]], *, once: bool = False
    ) -> None:
        """Keep (topic, payload, reason) of messages central will not store, in one commit.

        `once`: skip a letter whose topic and payload are already kept — a bundle imported
        again (from the stick and then from the phone) refuses the same rows again.
        """
        if once:
            letters = list({(t, p): (t, p, r) for t, p, r in letters}.values())
        if not letters:
            return
        now = time.time()
        with self.engine.begin() as conn:
            if once:
                known = {
                    (str(t), bytes(p))
                    for t, p in conn.execute(
                        sa.select(dead_letters.c.topic, dead_letters.c.payload).where(
                            dead_letters.c.topic.in_({t[:300] for t, _p, _r in letters}),
                            dead_letters.c.payload.in_([p for _t, p, _r in letters]),
                        )
                    )
                }
                letters = [(t, p, r) for t, p, r in letters if (t[:300], p) not in known]
                if not letters:
                    return
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


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Bring central's schema to `revision` with Alembic, in one transaction.

    The transaction first takes the database's lock (PostgreSQL: an advisory lock; SQLite:
    the write lock, BEGIN IMMEDIATE), so instances starting together migrate one after
    another (the later ones find nothing to do) instead of racing to create the same tables.
    """
    from alembic import command
    from alembic.config import Config as AlembicConfig

    with _MIGRATION_THREAD_LOCK, engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
        elif engine.dialect.name == "sqlite":
            # pysqlite has not begun a transaction yet (it does so lazily, before DML); the
            # DDL that follows runs inside this one and commits with it.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", "central:migrations")
        cfg.attributes["connection"] = conn
        if _unversioned_baseline(conn):
            _LOGGER.info("central store from before migrations: stamped %s", BASELINE_REVISION)
            command.stamp(cfg, BASELINE_REVISION)
        command.upgrade(cfg, revision)


def _unversioned_baseline(conn: Connection) -> bool:
    """True for a database central made with create_all, before it had migrations."""
    tables = set(sa.inspect(conn).get_table_names())
    return "alembic_version" not in tables and {"readings", "dead_letters"} <= tables
