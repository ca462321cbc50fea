"""Replay a BLE capture: a peripheral that answers the gateway as the recorded device did.

The replay peripheral exposes the recorded services. Each client write triggers the server
events (notifications, indications, a disconnect) that followed the same write in the capture;
the n-th write to a characteristic matches the n-th recorded write to it, so a clock write whose
bytes differ today still lines up. Server events recorded before the first write are sent once
the client has subscribed. A batch waits until every characteristic it notifies on is
subscribed, as a real device's CCCD would. Reads return the recorded values in order per
characteristic (the last one repeats), falling back to the DIS strings of the device line.

`replay_capture()` runs the real gateway session (`drivers.ble.runner`) against it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.devices import DeviceConfig, DeviceContext, DeviceStatus
from core.events import EventBus
from core.reading import Reading
from core.sink import CommitResult, Cursor, ReadingSink
from drivers.ble.capture import Capture, CaptureEvent, read_capture
from simulators.ble.backend import Air
from simulators.ble.peripheral import Characteristic, GattPeripheral, Service, uuid_of

_LOGGER = logging.getLogger(__name__)


def _segments(
    events: Sequence[CaptureEvent],
) -> tuple[list[CaptureEvent], dict[tuple[str, int], list[CaptureEvent]], dict[str, deque[bytes]]]:
    """Split the events into the leading server batch, per-write batches and read answers."""
    leading: list[CaptureEvent] = []
    after_write: dict[tuple[str, int], list[CaptureEvent]] = {}
    reads: dict[str, deque[bytes]] = defaultdict(deque)
    writes_seen: dict[str, int] = defaultdict(int)
    current = leading
    for event in events:
        if event.op == "write":
            key = (event.char, writes_seen[event.char])
            writes_seen[event.char] += 1
            current = after_write.setdefault(key, [])
        elif event.op == "read":
            reads[event.char].append(event.data)
        else:
            current.append(event)
    return leading, after_write, reads


class ReplayPeripheral(GattPeripheral):
    """A peripheral driven by a recorded capture. `speed` scales recorded delays (0: none)."""

    def __init__(self, capture: Capture, *, speed: float = 0.0) -> None:
        header = capture.header
        self.capture = capture
        self.speed = speed
        self._leading, self._after_write, self._reads = _segments(capture.events)
        self._writes: dict[str, int] = defaultdict(int)
        self._last_read: dict[str, bytes] = {}
        self._queue: asyncio.Queue[list[CaptureEvent]] | None = None
        self._subscription_changed: asyncio.Event | None = None
        services = [
            Service(
                s.uuid,
                [self._characteristic(c.uuid, c.properties) for c in s.characteristics],
            )
            for s in header.services
        ]
        super().__init__(
            address=header.address,
            name=header.name,
            services=services,
            advertised_services=[
                s.uuid for s in header.services if s.uuid in ("1810", "1808")
            ],
        )

    def _characteristic(self, uuid: str, properties: tuple[str, ...]) -> Characteristic:
        char = Characteristic(uuid, properties)

        async def on_read() -> bytes:
            return self._answer_read(uuid)

        async def on_write(data: bytes, response: bool) -> None:
            self._client_wrote(uuid, data)

        char.on_read = on_read
        char.on_write = on_write
        return char

    def _answer_read(self, char: str) -> bytes:
        queue = self._reads.get(char)
        if queue:
            self._last_read[char] = queue.popleft()
        if char in self._last_read:
            return self._last_read[char]
        return self.capture.header.dis.get(char, "").encode()

    def _client_wrote(self, char: str, data: bytes) -> None:
        index = self._writes[char]
        self._writes[char] += 1
        batch = self._after_write.get((char, index))
        if batch is None:
            _LOGGER.warning("replay: write #%d to %s was not recorded; no answer", index + 1, char)
            return
        if self._queue is not None:
            self._queue.put_nowait(batch)

    async def on_connect(self) -> None:
        self._queue = asyncio.Queue()
        self._subscription_changed = asyncio.Event()
        if self._leading:
            self._queue.put_nowait(self._leading)
        self.spawn(self._emit_batches(self._queue), "replay")

    async def on_subscribe(self, uuid: str) -> None:
        if self._subscription_changed is not None:
            self._subscription_changed.set()

    async def _wait_subscribed(self, batch: list[CaptureEvent]) -> None:
        needed = {e.char for e in batch if e.op in ("notify", "indicate")}
        changed = self._subscription_changed
        while changed is not None and not all(self.subscribed(c) for c in needed):
            changed.clear()
            await changed.wait()

    async def _emit_batches(self, queue: asyncio.Queue[list[CaptureEvent]]) -> None:
        while True:
            batch = await queue.get()
            await self._wait_subscribed(batch)
            previous_t: float | None = None
            for event in batch:
                if self.speed > 0 and previous_t is not None and event.t > previous_t:
                    await asyncio.sleep((event.t - previous_t) * self.speed)
                previous_t = event.t
                if event.op == "disconnect":
                    self.drop_link()
                    return
                if event.op == "indicate":
                    await self.indicate(uuid_of(event.char), event.data)
                else:
                    self.notify(uuid_of(event.char), event.data)
                    await asyncio.sleep(0)


class _CollectingSink:
    """Wraps the caller's sink to remember what a replay committed."""

    def __init__(self, inner: ReadingSink) -> None:
        self.inner = inner
        self.readings: list[Reading] = []
        self.stored = 0
        self.duplicates = 0

    async def commit(
        self, readings: Sequence[Reading], *, cursor: Cursor | None = None
    ) -> CommitResult:
        result = await self.inner.commit(readings, cursor=cursor)
        self.readings.extend(readings)
        self.stored += result.stored
        self.duplicates += result.duplicates
        return result

    async def get_cursor(self, device_id: str, name: str = "records") -> str | None:
        return await self.inner.get_cursor(device_id, name)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    device_name: str
    readings: tuple[Reading, ...]
    stored: int
    duplicates: int


async def replay_capture(
    path: Path,
    sink: ReadingSink,
    *,
    gateway_id: str = "replay",
    site_id: str | None = None,
    kind: str | None = None,
    quirk: str | None = None,
    options: dict[str, Any] | None = None,
    clock: Callable[[], datetime] | None = None,
    events: EventBus | None = None,
    speed: float = 0.0,
) -> ReplayResult:
    """Run the gateway's BLE session against a recorded capture, committing through `sink`.

    The clock defaults to the capture's recording time, so clock offsets and plausibility
    checks see the same "now" as the original session. Raises DecodeError for a malformed
    file and the session's DriverError subclasses when the replayed device misbehaves.
    """
    from drivers.ble.link import ConnectPolicy
    from drivers.ble.runner import make_runner

    capture = await asyncio.to_thread(read_capture, path)  # file I/O off the event loop
    recorded_at = capture.header.recorded_at

    def replay_clock() -> datetime:
        return recorded_at if recorded_at is not None else datetime.now(UTC)

    air = Air()
    air.add(ReplayPeripheral(capture, speed=speed))
    config = DeviceConfig(
        name=capture.header.name,
        transport="ble",
        kind=kind,
        address=capture.header.address,
        quirk=quirk,
        options={
            "backend": air,
            "connect_policy": ConnectPolicy(scan_timeout_s=2.0, attempts=1, backoff_s=0.0),
            **(options or {}),
        },
    )
    collecting = _CollectingSink(sink)
    ctx = DeviceContext(
        config=config,
        sink=collecting,
        status=DeviceStatus(name=config.name, transport="ble", kind=kind),
        events=events or EventBus(),
        gateway_id=gateway_id,
        site_id=site_id,
        clock=clock or replay_clock,
    )
    try:
        await make_runner(config).run_once(ctx)
    finally:
        await air.aclose()
    return ReplayResult(
        config.name, tuple(collecting.readings), collecting.stored, collecting.duplicates
    )
