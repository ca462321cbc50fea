"""An in-memory ReadingSink with the outbox's contract (ids de-duplicate, cursor in the same
"transaction"), for driving serial sessions without the real outbox."""

from __future__ import annotations

from collections.abc import Sequence

from core.reading import Reading
from core.sink import CommitResult, Cursor


class MemorySink:
    def __init__(self, *, fail_on_commit: int | None = None) -> None:
        self.readings: dict[str, Reading] = {}
        self.order: list[str] = []
        self.cursors: dict[tuple[str, str], str] = {}
        self.commits: list[tuple[int, Cursor | None]] = []
        self._fail_on_commit = fail_on_commit

    async def commit(
        self, readings: Sequence[Reading], *, cursor: Cursor | None = None
    ) -> CommitResult:
        if self._fail_on_commit is not None and len(self.commits) == self._fail_on_commit:
            raise OSError("disk full (test)")
        stored = 0
        for reading in readings:
            if reading.id in self.readings:
                continue
            self.readings[reading.id] = reading
            self.order.append(reading.id)
            stored += 1
        if cursor is not None:
            self.cursors[(cursor.device_id, cursor.name)] = cursor.value
        self.commits.append((len(readings), cursor))
        return CommitResult(stored=stored, duplicates=len(readings) - stored)

    async def get_cursor(self, device_id: str, name: str = "records") -> str | None:
        return self.cursors.get((device_id, name))
