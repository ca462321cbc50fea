"""The sink each device session writes into: bind the subject, commit, tell the screens.

One `DeviceSink` per configured device. It applies the kiosk's binder (so a reading is bound
to the resident waiting for *that* device, or stays unbound), commits through the outbox, and
only after the commit publishes `ReadingStored` so a screen never says "tersimpan" early.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from core.events import EventBus, ReadingStored
from core.reading import Reading
from core.sink import Binder, CommitResult, Cursor
from gateway.assurance import AssuranceBook
from gateway.outbox import Outbox


class DeviceSink:
    def __init__(
        self,
        outbox: Outbox,
        device_name: str,
        events: EventBus,
        binder: Binder | None = None,
        assurance: AssuranceBook | None = None,
        battery: Callable[[], int | None] = lambda: None,
    ) -> None:
        self._outbox = outbox
        self._name = device_name
        self._events = events
        self.binder = binder
        self._assurance = assurance
        self._battery = battery

    async def commit(
        self, readings: Sequence[Reading], *, cursor: Cursor | None = None
    ) -> CommitResult:
        # Meters re-send their memory; a reading the outbox already holds was taken before
        # anyone on screen now, so it is never offered to the binder and never re-announced.
        known = set(await self._outbox.states([r.id for r in readings])) if readings else set()
        book = self._assurance
        if book is not None and readings:
            # The QC log is written before the verdict is taken, so a failed control test in
            # this very transfer already marks the readings that come with it.
            await asyncio.to_thread(book.log_controls, self._name, list(readings))
            battery = self._battery()
            readings = [
                r if r.id in known else book.stamp(self._name, r, battery) for r in readings
            ]
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
