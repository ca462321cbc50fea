"""DeviceSink: bind and announce only readings new to the outbox (meters re-send memory)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from core.events import EventBus, ReadingStored
from core.reading import Reading, Subject
from gateway.outbox import Outbox
from gateway.pipeline import DeviceSink
from tests.support.harness import make_reading


class RecordingBinder:
    def __init__(self) -> None:
        self.offered: list[str] = []

    def bind(self, device_name: str, reading: Reading) -> Reading:
        self.offered.append(reading.id)
        return dataclasses.replace(reading, subject=Subject(pseudonym="ab" * 32), bound=True)


async def test_resent_memory_is_neither_bound_nor_announced(tmp_path: Path) -> None:
    events = EventBus()
    binder = RecordingBinder()
    async with Outbox(tmp_path / "o.db") as outbox, events.subscribe() as queue:
        sink = DeviceSink(outbox, "bp-1", events, binder)
        await sink.commit([make_reading(1)])
        result = await sink.commit([make_reading(1), make_reading(2)])
        assert (result.stored, result.duplicates) == (1, 1)
        assert binder.offered == [make_reading(1).id, make_reading(2).id]
        announced = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [e.reading.id for e in announced if isinstance(e, ReadingStored)] == [
        make_reading(1).id,
        make_reading(2).id,
    ]
    assert all(isinstance(e, ReadingStored) and e.reading.bound for e in announced)
