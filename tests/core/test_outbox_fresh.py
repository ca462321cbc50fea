"""The outbox answers the publisher's fetch from memory only when SQLite would answer the same.

`Outbox.fetch_pending` hands rows just committed straight to the publisher (no read-back under
load). These tests pin that answer to the database's own (`OutboxStore.fetch_pending`, the SQL
query) across commits with duplicates, fetches from any cursor, marks, deferrals, receipts,
reopening and the in-memory cap.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.outbox import Outbox
from gateway.outbox_store import PendingRow
from tests.support.harness import make_reading

Op = tuple[Any, ...]

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("commit"), st.lists(st.integers(0, 40), min_size=1, max_size=12)),
        st.tuples(st.just("fetch"), st.sampled_from(["zero", "last", "any"]), st.integers(1, 12)),
        st.tuples(st.just("publish"), st.integers(0, 5), st.booleans()),
        st.tuples(st.just("defer"), st.integers(0, 5), st.booleans()),
        st.tuples(st.just("confirm"), st.lists(st.integers(0, 40), max_size=4)),
        st.tuples(st.just("tick"), st.integers(1, 60)),
        st.tuples(st.just("reopen")),
    ),
    max_size=30,
)


def db_fetch(outbox: Outbox, after_seq: int, limit: int) -> list[PendingRow]:
    # The SQL answer. Called between operations, when the DB thread is idle.
    return outbox.store.fetch_pending(after_seq, limit)


async def run_ops(path: Path, ops: list[Op]) -> int:
    now = [1_000.0]
    outbox = Outbox(path, clock=lambda: now[0])
    await outbox.open()
    compared = 0
    seen: list[PendingRow] = []  # rows fetched, for cursors and marks
    try:
        for op in ops:
            kind = op[0]
            if kind == "commit":
                await outbox.commit([make_reading(n) for n in op[1]])
            elif kind == "fetch":
                cursor = {"zero": 0, "last": seen[-1].seq if seen else 0}.get(
                    op[1], seen[len(seen) // 2].seq if seen else 3
                )
                expected = db_fetch(outbox, cursor, op[2])
                got = await outbox.fetch_pending(cursor, op[2])
                assert got == expected, (cursor, op[2])
                compared += 1
                seen += got
            elif kind in ("publish", "defer"):
                # The newest rows fetched (the publisher's case), or the newest pending rows,
                # which may not have been fetched yet.
                rows = seen if op[2] else db_fetch(outbox, 0, 1000)
                seqs = [r.seq for r in rows[-op[1] - 1 :]]
                if not seqs:
                    continue
                if kind == "publish":
                    await outbox.mark_published(seqs)
                else:
                    await outbox.defer(seqs, 30.0)
            elif kind == "confirm":
                await outbox.mark_confirmed([make_reading(n).id for n in op[1]])
            elif kind == "tick":
                now[0] += op[1]
            elif kind == "reopen":
                await outbox.close()
                outbox = Outbox(path, clock=lambda: now[0])
                await outbox.open()
        # Whatever happened, a fetch from the start agrees with the database.
        assert await outbox.fetch_pending(0, 1000) == db_fetch(outbox, 0, 1000)
    finally:
        await outbox.close()
    return compared


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_fetch_from_memory_always_matches_the_database(ops: list[Op]) -> None:
    with tempfile.TemporaryDirectory(prefix="gempita-fresh-") as tmp:
        asyncio.run(run_ops(Path(tmp) / "o.db", ops))


def test_a_scripted_history_is_compared_at_every_fetch(tmp_path: Path) -> None:
    # The property above may draw few fetches; this one walks every case on purpose.
    ops: list[Op] = [
        ("commit", [1, 2, 3]),
        ("fetch", "zero", 2),  # memory: 1, 2
        ("fetch", "last", 5),  # memory: 3
        ("commit", [4, 5, 2]),  # a duplicate: seqs now unknown, database from here
        ("fetch", "last", 5),
        ("publish", 1, True),
        ("commit", [6, 7, 8]),
        ("defer", 0, True),
        ("commit", [10, 11, 12]),
        ("publish", 0, False),  # reading 12, never fetched
        ("commit", [13, 14]),
        ("defer", 0, False),  # reading 14, never fetched
        ("fetch", "last", 10),
        ("commit", [15, 16]),
        ("confirm", [16]),  # a receipt for a row never fetched
        ("fetch", "last", 10),
        ("fetch", "zero", 10),  # behind the fresh rows: database
        ("confirm", [8]),
        ("fetch", "last", 10),
        ("tick", 31),
        ("fetch", "zero", 10),  # the deferred reading is due again
        ("reopen",),
        ("commit", [9]),
        ("fetch", "zero", 10),
        ("fetch", "last", 10),
    ]
    assert asyncio.run(run_ops(tmp_path / "o.db", ops)) == 10


async def test_under_load_the_publisher_does_not_read_back(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "o.db") as outbox:
        reads: list[int] = []
        fetch = outbox.store.fetch_pending

        def counting_fetch(after_seq: int, limit: int) -> list[PendingRow]:
            reads.append(after_seq)
            return fetch(after_seq, limit)

        outbox.store.fetch_pending = counting_fetch  # type: ignore[method-assign]
        cursor = 0
        for batch in range(5):
            await outbox.commit([make_reading(batch * 10 + n) for n in range(10)])
            rows = await outbox.fetch_pending(cursor, 100)
            assert [r.seq for r in rows] == list(range(cursor + 1, cursor + 11))
            cursor = rows[-1].seq
            await outbox.mark_published([r.seq for r in rows])
        assert reads == []
        # A cursor behind what was handed out goes to the database, and gets the same rows
        # the database holds (all published now, so none).
        assert await outbox.fetch_pending(0, 100) == []
        assert reads == [0]


async def test_rows_beyond_the_memory_cap_come_from_the_database(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "o.db", fresh_max=5) as outbox:
        await outbox.commit([make_reading(n) for n in range(12)])
        first = await outbox.fetch_pending(0, 8)  # 1..7 dropped from memory: database
        rest = await outbox.fetch_pending(first[-1].seq, 8)  # 9..12 from memory
        assert [r.seq for r in first + rest] == list(range(1, 13))
        assert [r.payload for r in first + rest] == [r.payload for r in db_fetch(outbox, 0, 20)]


async def test_a_reopened_outbox_reads_what_it_holds_from_the_database(tmp_path: Path) -> None:
    async with Outbox(tmp_path / "o.db") as outbox:
        await outbox.commit([make_reading(n) for n in range(3)])
    async with Outbox(tmp_path / "o.db") as outbox:
        await outbox.commit([make_reading(n) for n in range(3, 5)])
        rows = await outbox.fetch_pending(0, 10)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
