"""The async outbox: durable buffer between device sessions and the publisher.

All SQLite work runs on one dedicated thread (a connection is not shared across threads, and
an fsync must never stall the event loop). Writers are grouped: every `commit()` that arrives
while a transaction is being written joins the next one, so under load many readings share one
fsync while a lone reading still commits at once.

Rows just committed are also kept in memory until the publisher fetches them, so that under
load the publisher does not read back what was written a moment ago: `fetch_pending` answers
from memory only when that is provably what the database would answer (see `_fresh_from`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from core.payload import encode_payload, to_payload
from core.reading import Reading
from core.sink import CommitResult, Cursor
from gateway.errors import (
    OutboxClosedError,
    OutboxError,
    OutboxFullError,
    OutboxStorageFullError,
)
from gateway.outbox_store import (
    Counts,
    Fresh,
    OutboxStore,
    PendingRow,
    Row,
    StoreOutcome,
    StoreRequest,
)

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")


def reading_row(reading: Reading) -> Row:
    payload = to_payload(reading)
    return Row(
        id=reading.id,
        device_id=payload["device"]["id"],
        kind=payload["kind"],
        measured_at=payload["measured_at"],
        payload=encode_payload(payload),
    )


@dataclass(slots=True)
class _Pending:
    request: StoreRequest
    future: asyncio.Future[StoreOutcome]


@dataclass(slots=True)
class _PendingMark:
    seqs: Sequence[int]
    future: asyncio.Future[int]


@dataclass(slots=True)
class Alarms:
    """Conditions an operator must see (status topic, `gempita status`)."""

    full: bool = False
    storage: str | None = None

    def as_list(self) -> list[str]:
        out = []
        if self.full:
            out.append("outbox_full")
        if self.storage:
            out.append(f"storage_error: {self.storage}")
        return out


class Outbox:
    """Async facade over `OutboxStore`; implements `core.sink.ReadingSink`."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "full",
        max_readings: int = 500_000,
        max_db_mb: int = 0,
        batch_max: int = 2000,
        fresh_max: int = 2000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = OutboxStore(
            path,
            synchronous=synchronous,
            max_readings=max_readings,
            max_db_mb=max_db_mb,
            clock=clock,
        )
        self.clock = clock  # the clock the store stamps published_at with
        self._batch_max = batch_max
        # Committed rows kept for the publisher: a few rounds of group commits. While the
        # publisher is offline the newest stay; older ones are read from the database later.
        self._fresh_max = fresh_max
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-db")
        self._queue: list[_Pending] = []
        self._marks: list[_PendingMark] = []
        self._wakeup = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._closing = False
        self.new_pending = asyncio.Event()  # set after each commit that stored something
        self.rescan = False  # set when rows went back to PENDING: the publisher starts over
        # Every row with seq > _fresh_from is in _fresh, in seq order, and was never handed to
        # the publisher (so it is PENDING and due): rows after a cursor >= _fresh_from are
        # exactly the tail of _fresh. Anything at or below it is read from the database.
        self._fresh: deque[PendingRow] = deque()
        self._fresh_from = 0
        self.alarms = Alarms()
        self.stored_total = 0
        self.duplicates_total = 0

    async def _db(self, fn: Callable[..., _T], *args: Any) -> _T:
        if self._closed:
            raise OutboxClosedError(f"outbox {self.store.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    async def open(self) -> None:
        await self._db(self.store.open)
        self._fresh_from = self.store.last_seq
        self._writer = asyncio.create_task(self._write_loop(), name="outbox-writer")

    async def close(self) -> None:
        if self._closed:
            return
        # Let the writer finish what callers are already awaiting: a reading handed to commit()
        # before close() is committed, not dropped.
        self._closing = True
        self._wakeup.set()
        if self._writer is not None:
            await self._writer
        waiting: list[asyncio.Future[Any]] = [p.future for p in self._queue]
        waiting += [m.future for m in self._marks]
        for future in waiting:
            if not future.done():
                future.set_exception(OutboxClosedError("outbox closed before commit"))
        self._queue.clear()
        self._marks.clear()
        self._fresh.clear()
        await self._db(self.store.close)
        self._closed = True
        # Joining the idle db thread still blocks: do it off the event loop.
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    async def __aenter__(self) -> Outbox:
        await self.open()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # --- ReadingSink --------------------------------------------------------------------------

    async def commit(
        self, readings: Sequence[Reading], *, cursor: Cursor | None = None
    ) -> CommitResult:
        outcome = await self.commit_rows(
            [reading_row(r) for r in readings],
            None if cursor is None else (cursor.device_id, cursor.name, cursor.value),
        )
        return CommitResult(stored=outcome.stored, duplicates=outcome.duplicates)

    async def commit_rows(
        self, rows: Sequence[Row], cursor: tuple[str, str, str] | None = None
    ) -> StoreOutcome:
        if self._closed or self._closing or self._writer is None:
            raise OutboxClosedError(f"outbox {self.store.path} is not open")
        future: asyncio.Future[StoreOutcome] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(StoreRequest(rows, cursor), future))
        self._wakeup.set()
        outcome = await future
        if outcome.error is not None:
            raise outcome.error
        return outcome

    async def get_cursor(self, device_id: str, name: str = "records") -> str | None:
        return await self._db(self.store.get_cursor, device_id, name)

    async def _write_loop(self) -> None:
        # One writer for everything that changes the outbox under load: readings from the
        # devices and the publisher's PUBLISHED marks share transactions (OutboxStore.write).
        while not (self._closing and not self._queue and not self._marks):
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue or self._marks:
                batch: list[_Pending] = []
                rows = 0
                while self._queue and (not batch or rows < self._batch_max):
                    item = self._queue.pop(0)
                    batch.append(item)
                    rows += len(item.request.rows)
                marks, self._marks = self._marks, []
                outcomes, marked, fresh = await self._db(
                    self.store.write, [p.request for p in batch], [m.seqs for m in marks]
                )
                self._keep_fresh(fresh)
                self._settle(batch, outcomes)
                for index, mark in enumerate(marks):
                    if mark.future.done():
                        continue
                    if isinstance(marked, OutboxError):
                        if isinstance(marked, OutboxStorageFullError):
                            self.alarms.storage = str(marked)
                        mark.future.set_exception(marked)
                    else:
                        mark.future.set_result(marked[index])
                # Let the callers just released queue their next readings before the writer
                # looks again: otherwise a marks-only transaction slips in first and every
                # device waits for it too. With this, bench (b)'s transactions all carried
                # readings and marks together (365 of 367; a few % faster, near this VM's noise).
                await asyncio.sleep(0)

    def _settle(self, batch: list[_Pending], outcomes: list[StoreOutcome]) -> None:
        stored_any = False
        full = False
        storage_error: str | None = None
        for pending, outcome in zip(batch, outcomes, strict=True):
            if outcome.error is not None:
                if isinstance(outcome.error, OutboxFullError):
                    full = True
                else:
                    storage_error = str(outcome.error)
                _LOGGER.error("reading(s) refused by the outbox: %s", outcome.error)
            else:
                stored_any = stored_any or outcome.stored > 0
                self.stored_total += outcome.stored
                self.duplicates_total += outcome.duplicates
            if not pending.future.done():
                pending.future.set_result(outcome)
        self.alarms.full = full or self.store.unconfirmed >= self.store.max_readings
        if storage_error is not None:
            self.alarms.storage = storage_error
        elif stored_any:
            self.alarms.storage = None
        if stored_any:
            self.new_pending.set()

    # --- publisher side -------------------------------------------------------------------------

    def _keep_fresh(self, fresh: Fresh) -> None:
        if not fresh.complete:
            # Duplicates left gaps in the seqs: read everything so far from the database.
            self._fresh.clear()
            self._fresh_from = fresh.last_seq
            return
        self._fresh.extend(fresh.rows)
        while len(self._fresh) > self._fresh_max:
            self._fresh_from = self._fresh.popleft().seq

    def _handed_out(self, upto_seq: int) -> None:
        fresh = self._fresh
        while fresh and fresh[0].seq <= upto_seq:
            fresh.popleft()
        self._fresh_from = max(self._fresh_from, upto_seq)

    def _forget(self, seqs: Sequence[int] = (), ids: Sequence[str] = ()) -> None:
        # A state change to rows nobody fetched yet (tests; a receipt for an id sent in an
        # earlier life): from there on, ask the database.
        if not self._fresh:
            return
        top = max(seqs, default=0)
        if top > self._fresh_from:
            self._handed_out(top)
        if ids:
            gone = set(ids)
            hit = [r.seq for r in self._fresh if r.id in gone]
            if hit:
                self._handed_out(hit[-1])

    async def fetch_pending(self, after_seq: int, limit: int) -> list[PendingRow]:
        """Due PENDING rows with seq > after_seq, oldest first, at most `limit`."""
        if after_seq >= self._fresh_from and not self._closed:
            # Just committed, never handed out: the database holds exactly these (due, in
            # order); under load this saves the publisher a read per group commit.
            self._handed_out(after_seq)
            rows = [self._fresh.popleft() for _ in range(min(limit, len(self._fresh)))]
            if rows:
                self._fresh_from = rows[-1].seq
            return rows
        rows = await self._db(self.store.fetch_pending, after_seq, limit)
        if rows:
            self._handed_out(rows[-1].seq)
        return rows

    async def mark_published(self, seqs: Sequence[int]) -> int:
        """Mark PUBACKed readings PUBLISHED; joins the next group commit of new readings."""
        if self._closed or self._closing or self._writer is None:
            raise OutboxClosedError(f"outbox {self.store.path} is not open")
        self._forget(seqs)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._marks.append(_PendingMark(seqs, future))
        self._wakeup.set()
        return await future

    async def mark_refused(self, seq: int, error: str, retry_in_s: float) -> None:
        self._forget((seq,))
        await self._write(self.store.mark_refused, seq, error, retry_in_s)

    async def defer(self, seqs: Sequence[int], retry_in_s: float) -> None:
        self._forget(seqs)
        await self._write(self.store.defer, seqs, retry_in_s)

    async def _write(self, fn: Callable[..., _T], *args: Any) -> _T:
        """A state change; a full disk raises the storage alarm (an operator must see it)."""
        try:
            return await self._db(fn, *args)
        except OutboxStorageFullError as exc:
            self.alarms.storage = str(exc)
            raise

    async def probe_storage(self) -> bool:
        """Try a reading-sized write; clears the storage alarm when it fits again."""
        try:
            await self._write(self.store.probe_storage)
        except OutboxStorageFullError:
            return False
        self.alarms.storage = None
        return True

    async def mark_confirmed(self, ids: Sequence[str]) -> tuple[int, int]:
        self._forget(ids=ids)
        result = await self._write(self.store.mark_confirmed, ids)
        if self.store.unconfirmed < self.store.max_readings:
            self.alarms.full = False
        return result

    async def requeue_unconfirmed(self, older_than_s: float) -> int:
        changed = await self._write(self.store.requeue_unconfirmed, older_than_s)
        self._requeued(changed)
        return changed

    async def requeue_published_before(self, cutoff: float) -> int:
        """Published before `cutoff` (the outbox clock) and unconfirmed: send again."""
        changed = await self._write(self.store.requeue_published_before, cutoff)
        self._requeued(changed)
        return changed

    def _requeued(self, changed: int) -> None:
        # The rows went back to PENDING behind the publisher's cursor: tell it to look from
        # the start, or under a steady stream of new readings it would not come back to them.
        if changed:
            self.rescan = True
            self.new_pending.set()

    async def purge_confirmed(self, older_than_s: float) -> int:
        return await self._write(self.store.purge_confirmed, older_than_s)

    async def counts(self) -> Counts:
        return await self._db(self.store.counts)

    async def states(self, ids: Sequence[str]) -> dict[str, str]:
        return await self._db(self.store.states, ids)


__all__ = ["Outbox", "OutboxError", "reading_row"]
