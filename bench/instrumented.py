"""The real outbox and publisher with timing taps, for the in-process benchmarks.

The subclasses only observe: each override calls the original and records a timestamp or an
id, so what is measured is the unmodified forwarding path.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from bench.common import GATEWAY_ID
from core.mqtt import BrokerSettings
from gateway.outbox import Outbox
from gateway.outbox_store import PendingRow
from gateway.publisher import Publisher, _Session

_T = TypeVar("_T")


class TappedOutbox(Outbox):
    """Remembers which reading id each fetched outbox seq carries."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)  # production defaults: synchronous=FULL, group commit
        self.id_of_seq: dict[int, str] = {}

    async def fetch_pending(self, after_seq: int, limit: int) -> list[PendingRow]:
        rows = await super().fetch_pending(after_seq, limit)
        for row in rows:
            self.id_of_seq[row.seq] = row.id
        return rows


class TappedPublisher(Publisher):
    """Records when each reading's PUBACK arrived (keyed by outbox seq)."""

    def __init__(self, outbox: Outbox, url: str) -> None:
        super().__init__(outbox, BrokerSettings(url=url, client_id=GATEWAY_ID), GATEWAY_ID)
        self.acked_at: dict[int, float] = {}
        self.acks = 0
        self.expected = 0
        self.all_acked = asyncio.Event()

    def _on_puback(self, session: _Session, mid: int, code: int, name: str) -> None:
        now = time.perf_counter()
        seq = session.inflight.get(mid)
        super()._on_puback(session, mid, code, name)
        if seq is not None and code < 0x80:
            self.acked_at[seq] = now
            self.acks += 1
            if self.expected and self.acks >= self.expected:
                self.all_acked.set()


async def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


@contextlib.asynccontextmanager
async def forwarding(db: Path, url: str) -> AsyncIterator[tuple[TappedOutbox, TappedPublisher]]:
    """An open outbox and a connected publisher forwarding from it."""
    outbox = TappedOutbox(db)
    await outbox.open()
    try:
        publisher = TappedPublisher(outbox, url)
        task = asyncio.create_task(publisher.run(), name="bench-publisher")
        try:
            await wait_until(lambda: publisher.state.connected or task.done(), 10, "connect")
            if task.done():
                task.result()
            yield outbox, publisher
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await outbox.close()


def split(items: Sequence[_T], size: int) -> list[Sequence[_T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
