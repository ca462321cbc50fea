"""In-process event bus: live device events for the kiosk and status screens.

Events are advisory (live cuff pressure, "reading stored", device state). Nothing durable
travels here: the outbox is the only source of truth. A slow subscriber loses old events
rather than slowing a device session down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from core.reading import Reading

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CuffPressure:
    device_name: str
    mmhg: float


@dataclass(frozen=True, slots=True)
class ReadingStored:
    device_name: str
    reading: Reading


@dataclass(frozen=True, slots=True)
class DeviceState:
    device_name: str
    state: str  # "connecting", "transferring", "idle", "error", "measuring"
    detail: str | None = None
    at: datetime | None = None


Event = CuffPressure | ReadingStored | DeviceState


class EventBus:
    def __init__(self, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._subscribers: set[asyncio.Queue[Event]] = set()

    def publish(self, event: Event) -> None:
        for queue in self._subscribers:
            if queue.full():
                # Drop the oldest: live views want the newest state.
                queue.get_nowait()
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
