"""What every serial meter session shares: its settings, its interface, and how it commits.

A session class is constructed once per connection with `SessionSettings` and driven with
``await session.run(link, ctx)``: connect, read what is new, commit through ``ctx.sink``,
return. It raises (a `drivers.errors.DeviceSessionError`) on failure; the gateway supervisor
owns retries.

Meters that list records newest-first (LifeScan, TaiDoc) share `NewestFirstCommitter`: it
reads newest first down to the cursor (the natural key of the newest record committed before),
holds the records, and when the dump ends commits them *oldest first* by measured time, in
batches, moving the cursor only with the last batch. So a backlog reaches the outbox, and
central, in measured-time order per device (issue 10 item 18). A cable pulled half-way commits
nothing and moves no cursor: the meter still holds every record and the next session reads
them again; a commit that fails between batches leaves the older ones stored and the cursor
where it was, and the records committed twice get the same reading id (outbox duplicates).
Nothing is acknowledged to a meter (clock set) before `finish` returns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from core.clock import DEFAULT_SITE_TZ, site_zone
from core.events import DeviceState
from core.reading import (
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    reading_id,
)
from core.sink import CommitResult, Cursor
from drivers.serial.device_time import clock_offset_s
from drivers.serial.record_time import record_time

if TYPE_CHECKING:
    # Only for annotations: looking a protocol up must not import pyserial.
    from core.devices import DeviceContext, DeviceStatus
    from drivers.serial.link import SerialLink

_LOGGER = logging.getLogger(__name__)

CURSOR_NAME = "records"
DEFAULT_BATCH = 50


@dataclass(frozen=True, slots=True)
class SessionSettings:
    protocol: str
    port: str  # the resolved port URL/path, used as the device address
    set_clock: bool = False
    site_tz: str = DEFAULT_SITE_TZ
    timeout_s: float = 2.0  # per reply; meters answer within ~0.3 s at 9600 baud
    retries: int = 3  # per request, for NAK / bad checksum / silence
    batch: int = DEFAULT_BATCH

    @property
    def zone(self) -> ZoneInfo:
        return site_zone(self.site_tz)


class MeterSession(Protocol):
    async def run(self, link: SerialLink, ctx: DeviceContext) -> None: ...


class SessionFactory(Protocol):
    def __call__(self, settings: SessionSettings) -> MeterSession: ...


@dataclass(slots=True)
class CommitStats:
    stored: int = 0
    duplicates: int = 0
    batches: int = 0
    seen: int = 0
    reached_cursor: bool = False


@dataclass(slots=True)
class NewestFirstCommitter:
    """Commits readings of a newest-first memory dump; see the module docstring.

    The cursor holds the natural key of the newest committed record. Reading stops at that key
    only while the records really came newest-first (times never increasing): a meter that
    lists oldest-first, or whose clock was set back between tests, is read to the end, and the
    outbox drops the re-read records by id.
    """

    ctx: DeviceContext
    device_id: str
    previous_key: str | None
    batch: int = DEFAULT_BATCH
    stats: CommitStats = field(default_factory=CommitStats)
    _pending: list[Reading] = field(default_factory=list)
    _newest: tuple[datetime, str] | None = None
    _last_time: datetime | None = None
    _newest_first: bool = True

    @classmethod
    async def start(cls, ctx: DeviceContext, device_id: str, batch: int) -> NewestFirstCommitter:
        previous = await ctx.sink.get_cursor(device_id, CURSOR_NAME)
        return cls(ctx=ctx, device_id=device_id, previous_key=previous, batch=max(1, batch))

    def is_known(self, key: str) -> bool:
        """True when `key` is the cursor record met in newest-first order: stop reading there."""
        if self._newest_first and self.previous_key is not None and key == self.previous_key:
            self.stats.reached_cursor = True
            return True
        return False

    async def add(self, key: str, reading: Reading) -> None:
        """Hold `reading` until `finish` commits the dump oldest first."""
        moment = reading.measured_at
        if self._last_time is not None and moment > self._last_time:
            self._newest_first = False
        self._last_time = moment
        if self._newest is None or moment > self._newest[0]:
            self._newest = (moment, key)
        self.stats.seen += 1
        self._pending.append(reading)

    async def offer(self, key: str, reading: Reading) -> bool:
        """`is_known` then `add`, judging the order with this record's time too.

        Returns False (and queues nothing) when this is the cursor record: stop reading.
        """
        if self._last_time is not None and reading.measured_at > self._last_time:
            self._newest_first = False
        if self.is_known(key):
            return False
        await self.add(key, reading)
        return True

    async def finish(self) -> None:
        """The dump ended (or met the cursor): commit it oldest first, then move the cursor."""
        newest_key = self._newest[1] if self._newest is not None else None
        cursor = (
            Cursor(self.device_id, newest_key, CURSOR_NAME)
            if newest_key is not None and newest_key != self.previous_key
            else None
        )
        # Oldest measured first; among equal times the one listed later (older in a
        # newest-first memory) goes first. sorted() is stable, so reverse, then sort.
        ordered = sorted(reversed(self._pending), key=lambda r: r.measured_at)
        self._pending.clear()
        batches = [ordered[i : i + self.batch] for i in range(0, len(ordered), self.batch)]
        for i, chunk in enumerate(batches):
            await self._flush(chunk, cursor if i == len(batches) - 1 else None)
        if not batches and cursor is not None:
            await self._flush([], cursor)

    async def _flush(self, chunk: Sequence[Reading], cursor: Cursor | None) -> None:
        readings: Sequence[Reading] = tuple(chunk)
        result: CommitResult = await self.ctx.sink.commit(readings, cursor=cursor)
        self.stats.stored += result.stored
        self.stats.duplicates += result.duplicates
        self.stats.batches += 1
        _record_progress(self.ctx.status, readings, result)


def _record_progress(
    status: DeviceStatus, readings: Sequence[Reading], result: CommitResult
) -> None:
    status.readings_total += result.stored
    if readings:
        status.last_reading_at = max(r.measured_at for r in readings)


def publish_state(ctx: DeviceContext, state: str, detail: str | None = None) -> None:
    now: datetime = ctx.clock()
    ctx.status.state = state
    ctx.status.last_seen = now
    ctx.events.publish(DeviceState(ctx.config.name, state, detail, now))


def glucose_reading(
    ctx: DeviceContext,
    device: DeviceIdentity,
    key: str,
    record_local: datetime,
    values: Glucose,
    clock: MeterClock,
) -> Reading:
    """A glucose `Reading` from a meter record, its time decided by `core.time_policy`."""
    received_at = ctx.clock()
    decided = record_time(record_local, clock.offset_s, clock.zone, received_at)
    return Reading(
        id=reading_id(device, key),
        kind=Kind.GLUCOSE,
        gateway_id=ctx.gateway_id,
        device=device,
        record_key=key,
        measured_at=decided.measured_at,
        time_quality=decided.quality,
        values=values,
        device_time=record_local.isoformat(timespec="seconds"),
        clock_offset_s=clock.offset_s,
        received_at=received_at,
        site_id=ctx.site_id,
    )


@dataclass(frozen=True, slots=True)
class MeterClock:
    """The meter clock as read at the start of a session."""

    zone: ZoneInfo
    read_at: datetime  # gateway UTC when the meter clock was read
    meter_local: datetime | None  # None when the meter would not tell
    offset_s: float | None  # meter minus gateway, seconds

    @classmethod
    def measure(cls, meter_local: datetime | None, now: datetime, zone: ZoneInfo) -> MeterClock:
        offset = None if meter_local is None else clock_offset_s(meter_local, now, zone)
        return cls(zone, now, meter_local, offset)


def glucose_values(
    value_mgdl: int, *, control: bool = False, meal: str | None = None,
    flags: frozenset[str] = frozenset(), lo_below: int = 20, hi_above: int = 600,
) -> Glucose:
    """LifeScan-style values: mg/dL on the wire, HI/LO outside the meter's range."""
    lo = value_mgdl < lo_below
    hi = value_mgdl > hi_above
    return Glucose(
        glucose_mgdl=None if (hi or lo) else float(value_mgdl),
        original_unit="mg/dL",
        original_value=float(value_mgdl),
        sample_type="control_solution" if control else "capillary_whole_blood",
        meal=meal,
        control_solution=control,
        hi=hi,
        lo=lo,
        sensor_status=flags,
    )
