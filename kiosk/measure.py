"""Measurements in progress: which visit waits for which device, and what came back.

The board claims the device in the binder when a measurement starts and listens to the
gateway's event bus: a `ReadingStored` whose bound subject carries a visit's id completes that
visit's measurement (matched by visit id, never by device alone), `CuffPressure` from the
device a visit holds feeds its live "measuring" view (and tells the binder an inflation is
under way). A reading the binder held back because it cannot tell whether it was taken after
the claim sets `again` on the visit that waits: its screen asks to measure once more.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from core.events import CuffPressure, Event, ReadingStored
from core.reading import Kind, Reading, Subject
from kiosk.binding import SessionBinder

_LOGGER = logging.getLogger(__name__)


class State(StrEnum):
    WAITING = "waiting"
    DONE = "done"
    TIMEOUT = "timeout"


@dataclass(slots=True)
class Measurement:
    kind: Kind
    device_name: str
    started_at: datetime
    fasting: bool | None = None
    state: State = State.WAITING
    cuff_mmhg: float | None = None
    again: bool = False  # a reading came that may not be this resident's: measure again
    reading: Reading | None = None
    on_done: Callable[[Measurement], None] | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class UnboundNote:
    at: datetime
    device_name: str
    kind: str


class StartError(Exception):
    """A measurement could not start; `key` is a kiosk.i18n text key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class MeasurementBoard:
    def __init__(
        self,
        binder: SessionBinder,
        devices: Callable[[], dict[Kind, str | None]],
        timeout: Callable[[], timedelta],
        clock: Callable[[], datetime],
        request_measurement: Callable[[str], None] | None = None,
    ) -> None:
        self._binder = binder
        self._devices = devices
        self._timeout = timeout
        self._clock = clock
        self._request = request_measurement
        self._active: dict[str, Measurement] = {}  # visit id -> measurement
        self._done: dict[str, list[Measurement]] = {}
        self.unbound: deque[UnboundNote] = deque(maxlen=50)
        self._changed = asyncio.Event()  # set (and replaced) whenever an event was handled

    def start(
        self,
        subject: Subject,
        kind: Kind,
        *,
        fasting: bool | None = None,
        on_done: Callable[[Measurement], None] | None = None,
    ) -> Measurement:
        visit_id = subject.session_id
        if visit_id is None:
            raise ValueError("subject needs a session id")
        device = self._devices().get(kind)
        if not device:
            raise StartError("measure_no_device")
        self.cancel(visit_id)
        meal = None if fasting is None else ("fasting" if fasting else "casual")
        if not self._binder.claim(device, kind, subject, timeout=self._timeout(), meal=meal):
            raise StartError("measure_busy")
        measurement = Measurement(kind, device, self._clock(), fasting=fasting, on_done=on_done)
        self._active[visit_id] = measurement
        if self._request is not None:
            try:
                self._request(kind.value)
            except Exception:  # the device may still be used by hand: keep waiting
                _LOGGER.exception("request_measurement(%s) failed", kind.value)
        return measurement

    def current(self, visit_id: str) -> Measurement | None:
        measurement = self._active.get(visit_id)
        if (
            measurement is not None
            and measurement.state is State.WAITING
            and self._clock() - measurement.started_at > self._timeout()
        ):
            measurement.state = State.TIMEOUT
            self._binder.release(visit_id, measurement.device_name)
        return measurement

    def results(self, visit_id: str) -> list[Measurement]:
        return list(self._done.get(visit_id, ()))

    def cancel(self, visit_id: str) -> None:
        self._binder.release(visit_id)
        self._active.pop(visit_id, None)

    def forget(self, visit_id: str) -> None:
        """End of a visit: release its devices and drop its results from memory."""
        self.cancel(visit_id)
        self._done.pop(visit_id, None)

    def expire(self) -> None:
        for visit_id in list(self._active):
            self.current(visit_id)

    async def next_change(self) -> None:
        """Return once the board has handled another event (the measuring page's long poll
        waits here, bounded by the caller)."""
        await self._changed.wait()

    def handle(self, event: Event) -> None:
        try:
            self._handle(event)
        finally:
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    def _handle(self, event: Event) -> None:
        if isinstance(event, ReadingStored):
            self._on_reading(event)
        elif isinstance(event, CuffPressure):
            self._binder.note_cuff(event.device_name)
            holder = self._binder.holder(event.device_name)
            measurement = self._active.get(holder) if holder else None
            if (
                measurement is not None
                and measurement.device_name == event.device_name
                and measurement.state is State.WAITING
            ):
                measurement.cuff_mmhg = event.mmhg

    def _on_reading(self, event: ReadingStored) -> None:
        reading = event.reading
        subject = reading.subject
        if not reading.bound or subject is None or subject.session_id is None:
            self.unbound.append(UnboundNote(self._clock(), event.device_name, reading.kind.value))
            held = self._binder.held_for(reading.id)
            waiting = self._active.get(held) if held else None
            if (
                waiting is not None
                and waiting.device_name == event.device_name
                and waiting.state is State.WAITING
            ):
                waiting.again = True
                waiting.cuff_mmhg = None
                waiting.started_at = self._clock()  # the binder's claim waits afresh too
            return
        measurement = self._active.get(subject.session_id)
        if (
            measurement is None
            or measurement.kind is not reading.kind
            or measurement.device_name != event.device_name
        ):
            # Bound to a visit that is gone (ended, timed out): stored, just not shown.
            return
        measurement.state = State.DONE
        measurement.reading = reading
        measurement.cuff_mmhg = None
        self._done.setdefault(subject.session_id, []).append(measurement)
        if measurement.on_done is not None:
            measurement.on_done(measurement)

    async def run(self, queue: asyncio.Queue[Event]) -> None:
        """Consume a subscription taken by the caller (before startup completes, so no
        event published after the app is up can be missed)."""
        while True:
            event = await queue.get()
            try:
                self.handle(event)
            except Exception:  # one bad event must not stop live updates
                _LOGGER.exception("kiosk could not handle %s", type(event).__name__)
