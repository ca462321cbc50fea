"""The contract between device sessions (drivers/) and the durable pipeline (gateway/).

A device session hands its readings to a `ReadingSink` and awaits `commit`. When `commit`
returns, the readings are durable (committed to the outbox and synced per configuration) and
the optional cursor was advanced *in the same transaction*: only then may the session
acknowledge anything to the device (advance a RACP cursor, clear a meter's memory, tell the
kiosk "tersimpan"). If `commit` raises, nothing was stored and the cursor did not move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core.reading import Reading


@dataclass(frozen=True, slots=True)
class Cursor:
    """Per-device progress marker, e.g. the last committed glucose sequence number."""

    device_id: str
    value: str
    name: str = "records"


@dataclass(frozen=True, slots=True)
class CommitResult:
    stored: int  # readings newly stored
    duplicates: int  # readings whose id was already in the outbox (ignored)


class ReadingSink(Protocol):
    async def commit(
        self, readings: Sequence[Reading], *, cursor: Cursor | None = None
    ) -> CommitResult: ...

    async def get_cursor(self, device_id: str, name: str = "records") -> str | None: ...


class Binder(Protocol):
    """Attaches the subject of the active kiosk/kader session to a device's reading.

    Called for every reading before it is committed. Must return the reading unchanged
    (with `bound=False`) when no session is waiting for that device's reading: a reading is
    never attached to a guessed person.
    """

    def bind(self, device_name: str, reading: Reading) -> Reading: ...
