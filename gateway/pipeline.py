"""The sink each device session writes into: bind the subject, commit, tell the screens.

One `DeviceSink` per configured device. It applies the kiosk's binder (so a reading is bound
to the resident waiting for *that* device, or stays unbound), commits through the outbox, and
only after the commit publishes `ReadingStored` so a screen never says "tersimpan" early.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.events import EventBus, ReadingStored
from core.reading import Reading
from core.sink import Binder, CommitResult, Cursor
from gateway.outbox import Outbox


class DeviceSink:
    def __init__(
        self,
        outbox: Outbox,
        device_name: str,
        events: EventBus,
        binder: Binder | None = None,
    ) -> None:
        self._outbox = outbox
        self._name = device_name
        self._events = events
        self.binder = binder

    async def commit(
        self, readings: Sequence[Reading], *, cursor: Cursor | None = None
    ) -> CommitResult:
        # Meters re-send their memory; a reading the outbox already holds was taken before
        # anyone on screen now, so it is never offered to the binder and never re-announced.
        known = set(await self._outbox.states([r.id for r in readings])) if readings else set()
        binder = self.binder
        if binder is not None:
            readings = [r if r.id in known else binder.bind(self._name, r) for r in readings]
        result = await self._outbox.commit(readings, cursor=cursor)
        # The one place "stored" is announced (kiosk: "tersimpan"): after the commit, with the
        # bound reading, and only for readings new to the outbox.
        for reading in readings:
            if reading.id not in known:
                self._events.publish(ReadingStored(self._name, reading))
        return result

    async def get_cursor(self, device_id: str, name: str = "records") -> str | None:
        return await self._outbox.get_cursor(device_id, name)
