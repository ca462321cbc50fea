"""The outbox's SQLite store (synchronous; one connection, used from one thread).

States: PENDING (committed, not yet acknowledged by the broker) -> PUBLISHED (PUBACK received)
-> CONFIRMED (central stored it) -> deleted after the retention window. A published reading
that central never confirms goes back to PENDING after `resend_after_s`, so a broker that lost
it cannot lose it for us.

Durability: WAL with `synchronous=FULL` fsyncs the WAL on every commit, so a reading is on disk
before `commit()` returns (survives power loss). `NORMAL` syncs only at checkpoints: it
survives a process crash or kill -9, not a power cut. SQLite errors are mapped once, in
`_map_error`, to typed outbox errors; a failed transaction rolls back whole and never touches
what was committed before.

Checkpoints: SQLite copies the WAL back into the database file once the WAL holds
`wal_autocheckpoint_pages` pages (default 10,000, ~40 MB; SQLite's own default is 1,000).
A checkpoint copies each page once however often it changed since the last one, and the
random-key `id` index changes the same pages again and again: checkpointing ten times less
often cut the commit path's CPU by ~10 % and raised bench (b) by 15-20 %, and writes the SD
card less. The cost: the WAL file stays up to ~40 MB, and after a crash or power cut the next
start reads it back (measured in bench/RESULTS.md). Durability does not change: the WAL is
still synced at every commit.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, InvalidRequestError
from sqlalchemy.pool import StaticPool

from gateway.errors import (
    OutboxCorruptError,
    OutboxError,
    OutboxFullError,
    OutboxLockedError,
    OutboxStorageFullError,
)

_LOGGER = logging.getLogger(__name__)

PENDING, PUBLISHED, CONFIRMED = 0, 1, 2
STATE_NAMES = {PENDING: "pending", PUBLISHED: "published", CONFIRMED: "confirmed"}
HEAD_REVISION = "0003"

_metadata = sa.MetaData()
outbox_table = sa.Table(
    "outbox",
    _metadata,
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("device_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("measured_at", sa.String(32), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("state", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("published_at", sa.Float),
    sa.Column("confirmed_at", sa.Float),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.String(200)),
    sa.Column("retry_at", sa.Float),
)
cursor_table = sa.Table(
    "device_cursor",
    _metadata,
    sa.Column("device_id", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# Why the statements below are shaped the way they are: the sqlite3 driver releases the GIL
# for every step of a statement, and the DB thread then waits for the event loop to hand it
# back (up to the 5 ms switch interval when the loop is busy). A row per step made the outbox
# wait for the GIL, not for the disk, under load (bench/ (b)): so a batch of rows is inserted,
# marked and fetched with one statement each.
_INSERT_HEAD = (
    "INSERT OR IGNORE INTO outbox (id, device_id, kind, measured_at, payload, state, created_at,"
    " attempts) VALUES "
)
_INSERT_ROW = "(?, ?, ?, ?, ?, 0, ?, 0)"
_INSERT_ROWS_MAX = 500  # 3,000 parameters, well inside SQLite's limit of 32,766
_UPSERT_CURSOR = sa.text(
    "INSERT INTO device_cursor (device_id, name, value, updated_at) "
    "VALUES (:device_id, :name, :value, :updated_at) "
    "ON CONFLICT (device_id, name) DO UPDATE SET value = excluded.value, "
    "updated_at = excluded.updated_at"
)

# The rows come back as one JSON array in one row (payloads are UTF-8 JSON, so the text
# cast keeps every byte).
_FETCH_PENDING = (
    "SELECT json_group_array(json_array(seq, id, CAST(payload AS TEXT))) FROM ("
    "SELECT seq, id, payload FROM outbox WHERE state = ? AND seq > ?"
    " AND (retry_at IS NULL OR retry_at <= ?) ORDER BY seq LIMIT ?)"
)
_OLDEST_UNCONFIRMED = (
    "SELECT MIN(created_at) FROM ("
    "SELECT * FROM (SELECT created_at FROM outbox WHERE state = 0 ORDER BY seq LIMIT 1)"
    " UNION ALL "
    "SELECT * FROM (SELECT created_at FROM outbox WHERE state = 1 ORDER BY seq LIMIT 1))"
)
_COUNT_REFUSED = (
    "SELECT COUNT(*) FROM outbox INDEXED BY ix_outbox_refused"
    " WHERE state = 0 AND last_error IS NOT NULL"
)
_LAST_REFUSAL = (
    "SELECT last_error FROM outbox INDEXED BY ix_outbox_refused"
    " WHERE state = 0 AND last_error IS NOT NULL ORDER BY seq DESC LIMIT 1"
)
# One statement per batch of PUBACKs, the seqs passed as a JSON array: SQLite walks the list
# in C instead of the driver stepping the statement once per row.
_MARK_PUBLISHED = (
    "UPDATE outbox SET state = 1, published_at = ?, last_error = NULL, retry_at = NULL,"
    " attempts = attempts + 1 WHERE state = 0 AND seq IN (SELECT value FROM json_each(?))"
)


# Row and PendingRow are made once per reading on the hot path: named tuples, immutable like
# the frozen dataclasses around them, cost about half as much to build (figures:
# bench/RESULTS.md, "How (b) was met", commit 544c4c4).
class Row(NamedTuple):
    """One reading ready to store: the payload is final, bytes sent as-is on every retry."""

    id: str
    device_id: str
    kind: str
    measured_at: str
    payload: bytes


class PendingRow(NamedTuple):
    seq: int
    id: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Fresh:
    """What one transaction inserted, in the form the publisher fetches it."""

    rows: list[PendingRow]  # seq order
    complete: bool  # False: some ids were duplicates, seqs have gaps, `rows` is empty
    last_seq: int  # highest seq inserted so far (0: none yet)


@dataclass(frozen=True, slots=True)
class Counts:
    pending: int
    published: int
    confirmed: int
    refused: int  # pending rows waiting after a broker refusal
    oldest_pending_created_at: float | None  # the first stored reading not yet confirmed
    last_error: str | None

    @property
    def unconfirmed(self) -> int:
        return self.pending + self.published


@dataclass(frozen=True, slots=True)
class StoreRequest:
    rows: Sequence[Row]
    cursor: tuple[str, str, str] | None  # (device_id, name, value)


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    stored: int = 0
    duplicates: int = 0
    error: OutboxError | None = None


def _map_error(exc: BaseException, path: Path) -> OutboxError:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    name = getattr(orig, "sqlite_errorname", "")
    text = str(orig)
    if name in ("SQLITE_FULL",) or "disk is full" in text:
        return OutboxStorageFullError(
            f"outbox {path}: disk or size cap is full ({text}); committed readings are safe, "
            "new readings are refused until space is freed (check `df`, outbox.max_db_mb)"
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return OutboxLockedError(
            f"outbox {path}: database is locked by another process ({text}); "
            "a backup or another tool holds a write transaction; the reading was not stored"
        )
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or "not a database" in text:
        return OutboxCorruptError(
            f"outbox {path}: file is damaged or not an outbox database ({text}); the gateway "
            "will not touch it. Move it aside (keep it for recovery) and restart"
        )
    return OutboxError(f"outbox {path}: {type(orig).__name__}: {text}")


class OutboxStore:
    """Synchronous store. Not thread-safe: the async `Outbox` calls it from one thread."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "full",
        max_readings: int = 500_000,
        max_db_mb: int = 0,
        clock: Callable[[], float] = time.time,
        exclusive: bool = True,
        busy_timeout_ms: int = 5000,
        wal_autocheckpoint_pages: int = 10_000,
    ) -> None:
        self.path = path
        self._exclusive = exclusive
        self._busy_timeout_ms = busy_timeout_ms
        self._wal_autocheckpoint_pages = wal_autocheckpoint_pages
        self._lock_fd: int | None = None
        self.max_readings = max_readings
        self._clock = clock
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._synchronous = synchronous.upper()
        self._max_db_mb = max_db_mb
        self.unconfirmed = 0
        self.last_seq = 0  # highest seq in the outbox (rows are only inserted by this store)

    # --- life cycle -------------------------------------------------------------------------

    def open(self) -> None:
        try:
            self._open()
        except DBAPIError as exc:
            self.close()
            raise _map_error(exc, self.path) from exc
        except sqlite3.Error as exc:
            self.close()
            raise _map_error(exc, self.path) from exc

    def _lock(self) -> None:
        # One gateway per outbox: a second one would publish the same rows and race the first
        # over states. SQLite's own locks do not prevent that in WAL mode, so take a file lock.
        fd = os.open(f"{self.path}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise OutboxLockedError(
                f"outbox {self.path} is locked by another process: is a second gateway "
                "(or `gempita outbox drain`) running on the same state directory?"
            ) from exc
        self._lock_fd = fd

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._exclusive:
            self._lock()
        engine = sa.create_engine(
            f"sqlite:///{self.path}",
            poolclass=StaticPool,
            connect_args={"check_same_thread": False, "timeout": self._busy_timeout_ms / 1000},
        )
        synchronous, max_db_mb, busy_ms = self._synchronous, self._max_db_mb, self._busy_timeout_ms
        checkpoint_pages = self._wal_autocheckpoint_pages

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # Fail fast on a damaged or foreign file instead of at the first insert.
            cur.execute("PRAGMA schema_version").fetchone()
            cur.execute("PRAGMA journal_mode=WAL").fetchone()
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cur.execute(f"PRAGMA wal_autocheckpoint={int(checkpoint_pages)}")
            if max_db_mb:
                page = cur.execute("PRAGMA page_size").fetchone()[0]
                cur.execute(f"PRAGMA max_page_count={max_db_mb * 1024 * 1024 // page}")
            cur.close()

        self._engine = engine
        self._conn = engine.connect()
        self._migrate()
        counts = self.counts()
        self.unconfirmed = counts.unconfirmed
        last = self._require().exec_driver_sql("SELECT coalesce(max(seq), 0) FROM outbox").scalar()
        self._require().commit()
        self.last_seq = int(last or 0)

    def _migrate(self) -> None:
        conn = self._require()
        current: str | None = None
        has_version = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'"
        ).first()
        if has_version:
            current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        conn.commit()
        if current == HEAD_REVISION:
            return  # the common case: skip importing Alembic (start-up time matters)
        upgrade_schema(conn, "head")
        conn.commit()
        _LOGGER.info("outbox %s migrated from %s to %s", self.path, current, HEAD_REVISION)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _require(self) -> Connection:
        if self._conn is None:
            raise OutboxError(f"outbox {self.path} is not open")
        return self._conn

    def _run(self, work: Callable[[Connection], Any], *, sync: bool = True) -> Any:
        """Run `work` as one transaction; `sync=False` skips the fsync at its commit.

        Only a new reading needs its own fsync (it is acknowledged to the device on return).
        State marks do not: losing the last few to a power cut only sends those readings
        again, which central deduplicates by id, and the next synced commit carries them to
        disk anyway (the WAL is one file, synced as a whole). Under load marks ride in the
        readings' transactions (`write`); alone, they do not make the DB thread wait for a disk.
        """
        conn = self._require()
        relax = not sync and self._synchronous in ("FULL", "EXTRA")
        try:
            if relax:
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")  # only outside a transaction
            try:
                result = work(conn)
                conn.commit()
            except BaseException:
                # Roll back before anything else runs on the connection: a failed commit
                # (disk full) leaves it unusable until then, and the pragma below raised
                # PendingRollbackError over the real error, which escaped as a crash.
                self._rollback(conn)
                raise
            finally:
                if relax:
                    conn.exec_driver_sql(f"PRAGMA synchronous={self._synchronous}")
                    conn.commit()
        except (DBAPIError, sqlite3.Error, InvalidRequestError) as exc:
            self._rollback(conn)
            raise _map_error(exc, self.path) from exc
        return result

    @staticmethod
    def _rollback(conn: Connection) -> None:
        try:
            conn.rollback()
        except (DBAPIError, sqlite3.Error, InvalidRequestError):
            _LOGGER.debug("rollback after a failed transaction also failed", exc_info=True)

    # --- writing ------------------------------------------------------------------------------

    def store(self, requests: Sequence[StoreRequest]) -> list[StoreOutcome]:
        """Store many callers' readings in ONE transaction (group commit).

        A request that would push the outbox past `max_readings` is refused alone; the others
        still commit. Duplicate ids are ignored (the device re-sent what we already hold).
        """
        outcomes, _marked, _fresh = self.write(requests, ())
        return outcomes

    def write(
        self, requests: Sequence[StoreRequest], marks: Sequence[Sequence[int]]
    ) -> tuple[list[StoreOutcome], list[int] | OutboxError, Fresh]:
        """New readings and PUBLISHED marks in one transaction.

        Returns the outcome per request, the rows marked per list of marks, and the rows
        inserted (`Fresh`), which the publisher can take without reading them back.

        Under load the marks for the previous group ride along with the next group's commit:
        one transaction and one fsync instead of two, and the pages the marks touch are the
        ones just written. Only new readings need the fsync; marks alone commit without one.
        """
        now = self._clock()
        outcomes: list[StoreOutcome] = []
        accepted: list[tuple[int, StoreRequest]] = []
        room = self.max_readings - self.unconfirmed
        for index, request in enumerate(requests):
            if len(request.rows) > room:
                outcomes.append(
                    StoreOutcome(
                        error=OutboxFullError(
                            f"outbox {self.path} holds {self.unconfirmed} unconfirmed readings "
                            f"(limit outbox.max_readings = {self.max_readings}); new readings "
                            "are refused until the broker is reachable again"
                        )
                    )
                )
                continue
            room -= len(request.rows)
            accepted.append((index, request))
            outcomes.append(StoreOutcome())
        mark_lists = [",".join(map(str, seqs)) for seqs in marks]
        nothing = Fresh([], True, self.last_seq)
        if not accepted and not any(mark_lists):
            return outcomes, [0] * len(marks), nothing

        def work(conn: Connection) -> tuple[list[tuple[int, int]], list[int], Fresh]:
            results, fresh = self._insert(conn, [request for _index, request in accepted], now)
            for _index, request in accepted:
                if request.cursor is not None:
                    device_id, name, value = request.cursor
                    conn.execute(
                        _UPSERT_CURSOR,
                        {"device_id": device_id, "name": name, "value": value, "updated_at": now},
                    )
            marked = [
                conn.exec_driver_sql(_MARK_PUBLISHED, (now, f"[{listed}]")).rowcount
                if listed
                else 0
                for listed in mark_lists
            ]
            return results, marked, fresh

        try:
            results, marked, fresh = self._run(work, sync=bool(accepted))
        except OutboxError as exc:
            for index, _request in accepted:
                outcomes[index] = StoreOutcome(error=exc)
            return outcomes, exc, nothing
        for (index, _request), (stored, dupes) in zip(accepted, results, strict=True):
            outcomes[index] = StoreOutcome(stored=stored, duplicates=dupes)
            self.unconfirmed += stored
        self.last_seq = fresh.last_seq
        return outcomes, marked, fresh

    def _insert(
        self, conn: Connection, requests: Sequence[StoreRequest], now: float
    ) -> tuple[list[tuple[int, int]], Fresh]:
        """Insert all requests' rows: (stored, duplicates) per request, and the new rows."""
        rows = [row for request in requests for row in request.rows]
        inserted = 0
        last_seq = self.last_seq
        fresh: list[PendingRow] = []
        for start in range(0, len(rows), _INSERT_ROWS_MAX):
            chunk = rows[start : start + _INSERT_ROWS_MAX]
            # Plain SQL and flat tuples through the driver: a Core insert with dict parameters
            # cost more per row than SQLite itself (bench/).
            params = tuple(
                value
                for r in chunk
                for value in (r.id, r.device_id, r.kind, r.measured_at, r.payload, now)
            )
            result = conn.exec_driver_sql(
                _INSERT_HEAD + ",".join([_INSERT_ROW] * len(chunk)), params
            )
            inserted += result.rowcount
            last_seq = result.lastrowid or last_seq
            if result.rowcount == len(chunk):
                # Nothing ignored: one writer, so the chunk took the seqs up to lastrowid.
                first = last_seq - len(chunk) + 1
                fresh += [PendingRow(first + n, r.id, r.payload) for n, r in enumerate(chunk)]
        if inserted == len(rows):
            return [(len(request.rows), 0) for request in requests], Fresh(fresh, True, last_seq)
        # Some ids were there already (a device sent records again). The new rows are the
        # `inserted` highest seqs up to the last one inserted (one writer; ignored rows may
        # leave gaps); credit each to the first request that carried it, as SQLite inserted
        # the first and ignored the rest.
        new_ids: set[str] = set()
        if inserted:
            found = conn.exec_driver_sql(
                "SELECT json_group_array(id) FROM (SELECT id FROM outbox WHERE seq <= ?"
                " ORDER BY seq DESC LIMIT ?)",
                (last_seq, inserted),
            ).scalar()
            new_ids = set(orjson.loads(str(found)))
        results = []
        for request in requests:
            stored = 0
            for row in request.rows:
                if row.id in new_ids:
                    new_ids.discard(row.id)
                    stored += 1
            results.append((stored, len(request.rows) - stored))
        return results, Fresh([], False, last_seq)

    def get_cursor(self, device_id: str, name: str) -> str | None:
        def work(conn: Connection) -> str | None:
            value = conn.execute(
                sa.select(cursor_table.c.value).where(
                    cursor_table.c.device_id == device_id, cursor_table.c.name == name
                )
            ).scalar()
            return None if value is None else str(value)

        result: str | None = self._run(work)
        return result

    # --- publishing -----------------------------------------------------------------------------

    def fetch_pending(self, after_seq: int, limit: int) -> list[PendingRow]:
        now = self._clock()

        def work(conn: Connection) -> list[PendingRow]:
            # Plain SQL through the driver: building the Core select on every call cost more
            # than the query (this runs once per publisher round).
            found = conn.exec_driver_sql(_FETCH_PENDING, (PENDING, after_seq, now, limit)).scalar()
            if not isinstance(found, str):
                raise OutboxError(f"outbox {self.path}: unexpected fetch result {found!r}")
            return [
                PendingRow(seq, id_, payload.encode()) for seq, id_, payload in orjson.loads(found)
            ]

        result: list[PendingRow] = self._run(work)
        return result

    def mark_published(self, seqs: Iterable[int]) -> int:
        _outcomes, marked, _fresh = self.write((), (list(seqs),))
        if isinstance(marked, OutboxError):
            raise marked
        return marked[0]

    def mark_refused(self, seq: int, error: str, retry_in_s: float) -> None:
        now = self._clock()
        stmt = sa.text(
            "UPDATE outbox SET last_error = :err, retry_at = :retry, attempts = attempts + 1 "
            "WHERE seq = :s AND state = 0"
        )
        params = {"err": error[:200], "retry": now + retry_in_s, "s": seq}
        self._run(lambda conn: conn.execute(stmt, params))

    def defer(self, seqs: Sequence[int], retry_in_s: float) -> None:
        """Keep pending but do not offer again before `retry_in_s` (nobody was listening)."""
        retry = self._clock() + retry_in_s
        params = [(retry, s) for s in seqs]
        stmt = "UPDATE outbox SET retry_at = ? WHERE seq = ? AND state = 0"
        self._run(lambda conn: conn.exec_driver_sql(stmt, params), sync=False)

    def mark_confirmed(self, ids: Sequence[str]) -> tuple[int, int]:
        """Returns (newly confirmed, unknown or already confirmed)."""
        if not ids:
            return 0, 0
        now = self._clock()
        stmt = sa.text(
            "UPDATE outbox SET state = 2, confirmed_at = :now, last_error = NULL "
            "WHERE id = :id AND state < 2"
        )
        changed: int = self._run(
            lambda conn: conn.execute(stmt, [{"id": i, "now": now} for i in ids]).rowcount,
            sync=False,
        )
        self.unconfirmed = max(0, self.unconfirmed - changed)
        return changed, len(ids) - changed

    def requeue_unconfirmed(self, older_than_s: float) -> int:
        """Published but never confirmed: the broker or central may have lost it. Send again."""
        cutoff = self._clock() - older_than_s
        stmt = sa.text("UPDATE outbox SET state = 0 WHERE state = 1 AND published_at < :cutoff")
        changed: int = self._run(lambda conn: conn.execute(stmt, {"cutoff": cutoff}).rowcount)
        return changed

    def probe_storage(self) -> None:
        """Raise OutboxStorageFullError (or another OutboxError) unless a write fits now.

        Writes and deletes a reading-sized row in one synced transaction: it needs a page
        allocated (the size cap) and WAL frames written (the disk), as a new reading does.
        """
        stmt = sa.text(
            "INSERT INTO device_cursor (device_id, name, value, updated_at) "
            "VALUES ('-probe-', '-probe-', :value, 0)"
        )
        drop = sa.text("DELETE FROM device_cursor WHERE device_id = '-probe-'")

        def work(conn: Connection) -> None:
            conn.execute(drop)
            conn.execute(stmt, {"value": "x" * 8192})
            conn.execute(drop)

        self._run(work)

    def requeue_published_before(self, cutoff: float) -> int:
        """Back to PENDING: published before `cutoff` (this store's clock) and not confirmed."""
        stmt = sa.text("UPDATE outbox SET state = 0 WHERE state = 1 AND published_at < :cutoff")
        changed: int = self._run(lambda conn: conn.execute(stmt, {"cutoff": cutoff}).rowcount)
        return changed

    def purge_confirmed(self, older_than_s: float) -> int:
        cutoff = self._clock() - older_than_s
        stmt = sa.text("DELETE FROM outbox WHERE state = 2 AND confirmed_at < :cutoff")
        changed: int = self._run(lambda conn: conn.execute(stmt, {"cutoff": cutoff}).rowcount)
        return changed

    # --- reporting ------------------------------------------------------------------------------

    def counts(self) -> Counts:
        def work(conn: Connection) -> Counts:
            by_state: dict[int, int] = dict(
                conn.exec_driver_sql("SELECT state, COUNT(*) FROM outbox GROUP BY state").all()
            )
            # Each an index lookup, not a scan of the backlog: this runs every few seconds on
            # the DB thread. The oldest unconfirmed reading is the first one stored that is
            # not confirmed (lowest seq per state, ix_outbox_state_seq); the refused ones
            # are in their own partial index (ix_outbox_refused).
            oldest = conn.exec_driver_sql(_OLDEST_UNCONFIRMED).scalar()
            refused = conn.exec_driver_sql(_COUNT_REFUSED).scalar()
            last_error = conn.exec_driver_sql(_LAST_REFUSAL).scalar()
            return Counts(
                pending=int(by_state.get(PENDING, 0)),
                published=int(by_state.get(PUBLISHED, 0)),
                confirmed=int(by_state.get(CONFIRMED, 0)),
                refused=int(refused or 0),
                oldest_pending_created_at=None if oldest is None else float(oldest),
                last_error=None if last_error is None else str(last_error),
            )

        result: Counts = self._run(work)
        return result

    def states(self, ids: Sequence[str]) -> dict[str, str]:
        """State name per id (for tests and `gempita status --id`)."""
        t = outbox_table

        def work(conn: Connection) -> dict[str, str]:
            rows = conn.execute(sa.select(t.c.id, t.c.state).where(t.c.id.in_(list(ids)))).all()
            return {r.id: STATE_NAMES[r.state] for r in rows}

        result: dict[str, str] = self._run(work)
        return result


def upgrade_schema(conn: Connection, revision: str) -> None:
    """Run the Alembic migrations up to `revision` on an open connection."""
    from alembic import command  # imported lazily: only needed when the schema is behind
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "gateway:migrations")
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)
