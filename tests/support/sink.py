"""The one in-memory `ReadingSink` for tests that drive a session without the real outbox.

It keeps the outbox's contract (ids de-duplicate; the cursor moves only with a successful
commit) so a session test can assert on exactly what was committed. The real outbox has its
own tests (tests/core/test_outbox*.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.reading import Reading
from core.sink import CommitResult, Cursor


class SinkFailure(OSError):
    """The sink refused a commit (simulated disk trouble); an OSError like the outbox's."""


@dataclass(frozen=True, slots=True)
class Commit:
    """One successful `commit()` call, as the session made it."""

    readings: tuple[Reading, ...]
    cursor: Cursor | None


class MemorySink:
    """Readings by id (in first-stored order), cursors, and every successful commit.

    `fail_on_commit=n` makes the n-th `commit()` call (0-based) raise `SinkFailure`;
    `fail_next_commit()` does the same for the next call.
    """

    def __init__(self, *, fail_on_commit: int | None = None) -> None:
        self.readings: dict[str, Reading] = {}
        self.cursors: dict[tuple[str, str], str] = {}
        self.commits: list[Commit] = []
        self.fail_on_commit = fail_on_commit
        self._calls = 0

    @property
    def order(self) -> list[str]:
        """Reading ids in the order they were first stored."""
        return list(self.readings)

    def fail_next_commit(self) -> None:
        self.fail_on_commit = self._calls

    async def commit(
        self, readings: Sequence[Reading], *, cursor: Cursor | None = None
    ) -> CommitResult:
        call = self._calls
        self._calls += 1
        if call == self.fail_on_commit:
            raise SinkFailure("disk full (simulated commit failure)")
        stored = 0
        for reading in readings:
            if reading.id not in self.readings:
                self.readings[reading.id] = reading
                stored += 1
        if cursor is not None:
            self.cursors[(cursor.device_id, cursor.name)] = cursor.value
        self.commits.append(Commit(tuple(readings), cursor))
        return CommitResult(stored=stored, duplicates=len(readings) - stored)

    async def get_cursor(self, device_id: str, name: str = "records") -> str | None:
        return self.cursors.get((device_id, name))
