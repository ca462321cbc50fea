"""Outbox behaviour on real SQLite files: durability, dedup, cursors, limits, failures."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.payload import encode_reading
from core.reading import BloodPressure
from core.sink import Cursor
from gateway.errors import (
    OutboxCorruptError,
    OutboxFullError,
    OutboxLockedError,
    OutboxStorageFullError,
)
from gateway.outbox import Outbox, reading_row
from gateway.outbox_store import HEAD_REVISION, OutboxStore, StoreRequest, upgrade_schema
from tests.support.harness import make_reading


async def test_commit_is_durable_and_dedups(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    async with Outbox(path) as outbox:
        first = await outbox.commit([make_reading(i) for i in range(10)])
        again = await outbox.commit([make_reading(i) for i in range(5, 15)])
    assert (first.stored, first.duplicates) == (10, 0)
    assert (again.stored, again.duplicates) == (5, 5)
    # Another process (a plain sqlite3 connection) sees exactly the committed rows.
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*), MIN(state), MAX(state) FROM outbox").fetchone() == (
            15,
            0,
            0,
        )
        payload = conn.execute("SELECT payload FROM outbox WHERE seq = 1").fetchone()[0]
    assert payload == encode_reading(make_reading(0))


async def test_cursor_moves_only_with_the_commit(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "o.db", max_readings=3) as outbox:
        await outbox.commit([make_reading(1)], cursor=Cursor("dev", "1", "racp_seq"))
        assert await outbox.get_cursor("dev", "racp_seq") == "1"
        with pytest.raises(OutboxFullError, match="max_readings"):
            await outbox.commit(
                [make_reading(i) for i in range(2, 6)], cursor=Cursor("dev", "5", "racp_seq")
            )
        # Refused: nothing stored, the device cursor did not move.
        assert await outbox.get_cursor("dev", "racp_seq") == "1"
        assert (await outbox.counts()).pending == 1
        assert outbox.alarms.full
        assert "outbox_full" in outbox.alarms.as_list()


async def test_group_commit_many_concurrent_writers(tmp_path: Path) -> None:
    import asyncio

    async with Outbox(tmp_path / "o.db") as outbox:
        results = await asyncio.gather(
            *(outbox.commit([make_reading(i), make_reading(i + 10_000)]) for i in range(300))
        )
        assert sum(r.stored for r in results) == 600
        assert (await outbox.counts()).pending == 600


async def test_state_machine_publish_confirm_requeue_purge(tmp_path: Path) -> None:
    now = [1000.0]
    async with Outbox(tmp_path / "o.db", clock=lambda: now[0]) as outbox:
        await outbox.commit([make_reading(i) for i in range(4)])
        rows = await outbox.fetch_pending(0, 10)
        assert [r.seq for r in rows] == [1, 2, 3, 4]
        assert await outbox.mark_published([1, 2, 3]) == 3
        await outbox.mark_refused(4, "broker refused reading: 0x87 Not authorized", 300)
        # A refused reading waits; it is not offered again before its retry time.
        assert await outbox.fetch_pending(0, 10) == []
        counts = await outbox.counts()
        assert (counts.pending, counts.published, counts.refused) == (1, 3, 1)
        assert counts.last_error is not None and "0x87" in counts.last_error
        confirmed, unknown = await outbox.mark_confirmed([rows[0].id, "no-such-id"])
        assert (confirmed, unknown) == (1, 1)
        now[0] += 400
        assert [r.seq for r in await outbox.fetch_pending(0, 10)] == [4]
        # Published 400 s ago and never confirmed: goes back to pending.
        assert await outbox.requeue_unconfirmed(300) == 2
        assert [r.seq for r in await outbox.fetch_pending(0, 10)] == [2, 3, 4]
        assert await outbox.purge_confirmed(300) == 1
        assert (await outbox.counts()).confirmed == 0


async def test_disk_full_refuses_new_and_keeps_committed(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    async with Outbox(path, max_db_mb=1) as outbox:
        stored = 0
        with pytest.raises(OutboxStorageFullError, match="full"):
            for i in range(0, 100_000, 500):
                result = await outbox.commit([make_reading(n) for n in range(i, i + 500)])
                stored += result.stored
        assert stored > 0
        assert outbox.alarms.storage is not None
        assert (await outbox.counts()).pending == stored
    # Reopened without the cap, every committed reading is there.
    async with Outbox(path) as outbox:
        assert (await outbox.counts()).pending == stored


async def test_corrupt_file_is_a_clear_error_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    garbage = b"this is not a database" * 100
    path.write_bytes(garbage)
    outbox = Outbox(path)
    with pytest.raises(OutboxCorruptError, match="Move it aside"):
        await outbox.open()
    assert path.read_bytes() == garbage


async def test_second_gateway_on_the_same_outbox_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    async with Outbox(path) as outbox:
        await outbox.commit([make_reading(1)])
        # The stores are used directly, so off the event loop, as the Outbox does.
        second = OutboxStore(path)
        with pytest.raises(OutboxLockedError, match="second gateway"):
            await asyncio.to_thread(second.open)
        # A read-only look (gempita status) is allowed while the gateway runs.
        viewer = OutboxStore(path, exclusive=False)
        await asyncio.to_thread(viewer.open)
        assert (await asyncio.to_thread(viewer.counts)).pending == 1
        await asyncio.to_thread(viewer.close)


def test_write_lock_held_elsewhere_is_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    from gateway.outbox_store import StoreRequest

    path = tmp_path / "o.db"
    store = OutboxStore(path, busy_timeout_ms=100)
    store.open()
    try:
        store.store([StoreRequest([reading_row(make_reading(1))], None)])
        holder = sqlite3.connect(path, timeout=0)
        holder.execute("BEGIN IMMEDIATE")
        try:
            (outcome,) = store.store([StoreRequest([reading_row(make_reading(2))], None)])
        finally:
            holder.rollback()
            holder.close()
        assert isinstance(outcome.error, OutboxLockedError)
        assert "holds a write transaction" in str(outcome.error)
        assert store.counts().pending == 1
        (outcome,) = store.store([StoreRequest([reading_row(make_reading(2))], None)])
        assert outcome.stored == 1
    finally:
        store.close()


def test_migration_from_first_schema_keeps_readings(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    row = reading_row(make_reading(7))
    with engine.connect() as conn:
        upgrade_schema(conn, "0001")
        conn.commit()
        conn.execute(
            sa.text(
                "INSERT INTO outbox (id, device_id, kind, measured_at, payload, state, created_at)"
                " VALUES (:id, :d, :k, :m, :p, 0, 1.0)"
            ),
            {
                "id": row.id,
                "d": row.device_id,
                "k": row.kind,
                "m": row.measured_at,
                "p": row.payload,
            },
        )
        conn.execute(sa.text("INSERT INTO device_cursor VALUES ('dev', 'racp_seq', '41', 1.0)"))
        conn.commit()
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0001"
    engine.dispose()
    store = OutboxStore(path)
    store.open()
    try:
        pending = store.fetch_pending(0, 10)
        assert [(p.id, p.payload) for p in pending] == [(row.id, row.payload)]
        assert store.get_cursor("dev", "racp_seq") == "41"
        store.mark_refused(pending[0].seq, "0x87 Not authorized", 0)
        assert store.counts().refused == 1
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            HEAD_REVISION,
        )
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"ix_outbox_state_seq", "ix_outbox_confirmed_at", "ix_outbox_refused"} <= indexes


def test_duplicates_are_credited_per_request_within_one_group(tmp_path: Path) -> None:
    store = OutboxStore(tmp_path / "o.db")
    store.open()
    try:
        (old,) = store.store([StoreRequest([reading_row(make_reading(0))], None)])
        assert (old.stored, old.duplicates) == (1, 0)
        rows = {n: reading_row(make_reading(n)) for n in range(4)}
        a, b, c = store.store(
            [
                StoreRequest([rows[1], rows[2]], None),
                StoreRequest([rows[2], rows[3]], None),  # 2 is new, but request a has it
                StoreRequest([rows[0]], None),  # stored before this group
            ]
        )
        assert [(o.stored, o.duplicates) for o in (a, b, c)] == [(2, 0), (1, 1), (0, 1)]
        assert store.unconfirmed == 4
        assert [r.id for r in store.fetch_pending(0, 10)] == [rows[n].id for n in range(4)]
    finally:
        store.close()


def test_a_large_request_spans_several_statements(tmp_path: Path) -> None:
    store = OutboxStore(tmp_path / "o.db")
    store.open()
    try:
        store.store([StoreRequest([reading_row(make_reading(n)) for n in range(700, 710)], None)])
        rows = [reading_row(make_reading(n)) for n in range(1203)]  # 3 statements of <= 500
        (outcome,) = store.store([StoreRequest(rows, None)])
        assert (outcome.stored, outcome.duplicates) == (1193, 10)
        fetched = store.fetch_pending(0, 5000)
        assert len(fetched) == 1203
        assert {r.id: r.payload for r in fetched} == {r.id: r.payload for r in rows}
    finally:
        store.close()


async def test_fetch_returns_the_committed_bytes_exactly(tmp_path: Path) -> None:
    # Payloads travel through SQLite's JSON functions on the way out; every byte (non-ASCII
    # text, escapes, quotes) must come back as committed.
    base = make_reading(1)
    odd = dataclasses.replace(
        base, id="odd-1", site_id='Kelurahan Gunung Samarinda — "Posbindu" \\ ü 漢 \U0001f600'
    )
    async with Outbox(tmp_path / "o.db") as outbox:
        await outbox.commit([base, odd])
        fresh = await outbox.fetch_pending(0, 10)  # handed over from memory
    async with Outbox(tmp_path / "o.db") as outbox:
        fetched = await outbox.fetch_pending(0, 10)  # read from the file
    assert [r.payload for r in fetched] == [encode_reading(base), encode_reading(odd)]
    assert fetched == fresh


async def test_published_marks_join_the_next_group_commit(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "o.db") as outbox:
        await outbox.commit([make_reading(i) for i in range(3)])
        writes: list[tuple[int, int]] = []
        write = outbox.store.write

        def counting_write(requests: Any, marks: Any) -> Any:
            writes.append((sum(len(r.rows) for r in requests), sum(len(m) for m in marks)))
            return write(requests, marks)

        outbox.store.write = counting_write  # type: ignore[method-assign]
        marked, committed = await asyncio.gather(
            outbox.mark_published([1, 2]), outbox.commit([make_reading(i) for i in range(3, 6)])
        )
        assert (marked, committed.stored) == (2, 3)
        assert writes == [(3, 2)]  # one transaction for both
        assert await outbox.mark_published([3, 99]) == 1  # marks alone still commit
        counts = await outbox.counts()
        assert (counts.published, counts.pending) == (3, 3)
        # A marks-only commit skips the fsync; the connection is back to FULL afterwards.
        synchronous = await outbox._db(
            lambda: outbox.store._require().exec_driver_sql("PRAGMA synchronous").scalar()
        )
        assert synchronous == 2


def test_non_finite_values_are_refused() -> None:
    base = make_reading(1)
    with pytest.raises(ValueError, match="finite"):
        dataclasses.replace(base, values=BloodPressure(float("nan"), 80.0, None, 70.0))
    with pytest.raises(ValueError, match="finite"):
        dataclasses.replace(base, clock_offset_s=float("inf"))


def test_checkpoints_keep_the_wal_bounded(tmp_path: Path) -> None:
    # The WAL is copied back into the file every `wal_autocheckpoint_pages` pages (10,000 by
    # default, see outbox_store's docstring); here 50, so a few hundred readings must wrap
    # it several times and the file stays near that size instead of growing with the data.
    path = tmp_path / "o.db"
    store = OutboxStore(path, wal_autocheckpoint_pages=50)
    store.open()
    try:
        setting = store._require().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        for n in range(0, 600, 20):
            store.store(
                [StoreRequest([reading_row(make_reading(i)) for i in range(n, n + 20)], None)]
            )
        wal = path.with_name("o.db-wal").stat().st_size
        page = store._require().exec_driver_sql("PRAGMA page_size").scalar()
        assert setting == 50
        assert wal <= 120 * (page + 24) + 32  # 50 pages plus the last transaction, frames
        assert store.counts().pending == 600
    finally:
        store.close()
    default = OutboxStore(tmp_path / "d.db")
    default.open()
    try:
        assert default._require().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
    finally:
        default.close()


def test_counts_by_state_refusals_and_the_oldest_unconfirmed(tmp_path: Path) -> None:
    now = [100.0]
    store = OutboxStore(tmp_path / "o.db", clock=lambda: now[0])
    store.open()
    try:
        for n in range(6):
            now[0] = 100.0 + n
            store.store([StoreRequest([reading_row(make_reading(n))], None)])
        store.mark_published([1, 2, 3])
        store.mark_confirmed([make_reading(0).id])  # seq 1
        store.mark_refused(4, "0x87 Not authorized", 30)
        store.mark_refused(6, "0x97 Quota exceeded", 30)
        counts = store.counts()
        assert (counts.pending, counts.published, counts.confirmed) == (3, 2, 1)
        assert counts.refused == 2
        assert counts.last_error == "0x97 Quota exceeded"  # the newest refusal
        assert counts.oldest_pending_created_at == 101.0  # seq 2, published, not confirmed
        store.mark_confirmed([make_reading(1).id, make_reading(2).id])
        assert store.counts().oldest_pending_created_at == 103.0  # seq 4, pending
        store.mark_published([4, 5, 6])  # a PUBACK clears the refusal
        counts = store.counts()
        assert (counts.refused, counts.last_error) == (0, None)
        store.mark_confirmed([make_reading(n).id for n in range(3, 6)])
        assert store.counts().oldest_pending_created_at is None
    finally:
        store.close()


def test_counts_never_scan_the_backlog(tmp_path: Path) -> None:
    # Status runs these every few seconds on the DB thread: the work of each must not grow
    # with the backlog (the counts by state excepted: one pass over the small state index).
    from gateway import outbox_store

    path = tmp_path / "o.db"
    store = OutboxStore(path)
    store.open()
    queries = (
        outbox_store._OLDEST_UNCONFIRMED,
        outbox_store._COUNT_REFUSED,
        outbox_store._LAST_REFUSAL,
    )

    def vm_steps() -> list[int]:
        # SQLite calls the progress handler every N virtual-machine instructions.
        steps = []
        with sqlite3.connect(path) as conn:
            for sql in queries:
                count = [0]

                def tick(count: list[int] = count) -> int:
                    count[0] += 1
                    return 0

                conn.set_progress_handler(tick, 1)
                conn.execute(sql).fetchall()
                steps.append(count[0])
        return steps

    def add(first: int, n: int) -> None:
        rows = [reading_row(make_reading(i)) for i in range(first, first + n)]
        store.store([StoreRequest(rows, None)])

    try:
        add(0, 200)
        store.mark_published(list(range(1, 101)))
        store.mark_refused(150, "0x87 Not authorized", 30)
        small = vm_steps()
        add(200, 2000)
        store.mark_published(list(range(101, 1101)))
        large = vm_steps()
    finally:
        store.close()
    assert all(after <= before + 50 for before, after in zip(small, large, strict=True)), (
        small,
        large,
    )
