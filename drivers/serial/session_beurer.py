"""One session with a Beurer BM58-family blood-pressure monitor (4800 8N1).

wake (AA -> 55) -> device id (A4) -> record count (A2) -> every record (A3 i) -> commit the
records newer than the cursor, oldest first.

The protocol has no checksum, no NAK and no clock command, so robustness comes from shape:
short replies (wake, id, count) are read until the line is quiet and must have exactly the
expected size, the id and count are asked until two answers in a row agree, a record must
start with AC (or be A9) and decode to a plausible reading, and anything else makes us drop
the input and ask again. A damaged byte inside a record that still looks plausible cannot be
detected by any means the protocol offers. The monitor's slot order is not
documented, so all records are read and sorted by their own time before committing.

The id string is what the monitor calls itself (a model name, not a unit serial, as far as
public code shows), so the device identity is the port and the record key is port + time +
values. Record times come from a clock the gateway can neither read nor set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from core.reading import BloodPressure, DeviceIdentity, Kind, Reading, Transport, reading_id
from drivers.errors import DecodeError
from drivers.serial import beurer_bm58 as bm58
from drivers.serial.errors import LinkTimeoutError, MeterProtocolError
from drivers.serial.natural_key import natural_key
from drivers.serial.record_time import record_time
from drivers.serial.session_base import NewestFirstCommitter, SessionSettings, publish_state

if TYPE_CHECKING:
    from core.devices import DeviceContext
    from drivers.serial.link import SerialLink

_LOGGER = logging.getLogger(__name__)

# 4800 baud is ~2 ms per byte; a reply is over once the line has been quiet this long.
QUIET_S = 0.15

_T = TypeVar("_T")


class BeurerBm58Session:
    def __init__(self, settings: SessionSettings) -> None:
        self._settings = settings
        self._zone = settings.zone

    async def run(self, link: SerialLink, ctx: DeviceContext) -> None:
        s = self._settings
        # Line noise before the wake ack does not matter: only "it is awake" is learnt here.
        await self._short(link, bm58.wake_request(), _decode_wake_tail, size=None)
        name = await self._agreed(link, bm58.device_id_request(), bm58.decode_device_id, None)
        count = await self._agreed(link, bm58.count_request(), bm58.decode_count, 1)
        device = DeviceIdentity(
            transport=Transport.SERIAL, address=s.port, manufacturer="Beurer", model=name
        )
        _LOGGER.info("beurer %s: %d record slots", name, count)
        publish_state(ctx, "transferring", f"{count} records")
        records: dict[str, bm58.BpRecord] = {}
        for index in range(1, count + 1):
            record = await self._record(link, index)
            if record is not None:
                records[_key(device, record)] = record
        now = ctx.clock()
        committer = await NewestFirstCommitter.start(ctx, device.id, s.batch)
        newest_first = sorted(records.items(), key=lambda item: item[1].taken_at, reverse=True)
        for key, record in newest_first:
            if committer.is_known(key):
                break
            await committer.add(key, self._reading(ctx, device, key, record, now))
        await committer.finish()
        _LOGGER.info(
            "beurer %s: %d new, %d already stored",
            name,
            committer.stats.stored,
            committer.stats.duplicates,
        )
        if s.set_clock:
            _LOGGER.warning("beurer: the BM58 protocol has no clock command; clock left as is")

    def _reading(
        self,
        ctx: DeviceContext,
        device: DeviceIdentity,
        key: str,
        record: bm58.BpRecord,
        now: datetime,
    ) -> Reading:
        decided = record_time(record.taken_at, None, self._zone, now)
        return Reading(
            id=reading_id(device, key),
            kind=Kind.BLOOD_PRESSURE,
            gateway_id=ctx.gateway_id,
            device=device,
            record_key=key,
            measured_at=decided.measured_at,
            time_quality=decided.quality,
            values=BloodPressure(
                systolic_mmhg=float(record.systolic),
                diastolic_mmhg=float(record.diastolic),
                map_mmhg=None,
                pulse_bpm=float(record.pulse),
            ),
            device_time=record.taken_at.isoformat(),
            clock_offset_s=None,
            received_at=now,
            site_id=ctx.site_id,
        )

    async def _short(
        self,
        link: SerialLink,
        request: bytes,
        decode: Callable[[bytes], _T],
        *,
        size: int | None,
    ) -> _T:
        """Send `request`; the reply is everything until the line goes quiet."""
        failure: Exception | None = None
        for attempt in range(self._settings.retries + 1):
            link.discard_input()
            await link.write(request)
            try:
                reply = await _read_quiet(link, self._settings.timeout_s)
                return decode(_sized(reply, size))
            except (LinkTimeoutError, DecodeError) as exc:
                failure = exc
                _LOGGER.debug("beurer 0x%02X attempt %d: %s", request[0], attempt + 1, exc)
        raise _give_up(request, self._settings.retries + 1, failure)

    async def _agreed(
        self,
        link: SerialLink,
        request: bytes,
        decode: Callable[[bytes], _T],
        size: int | None,
    ) -> _T:
        """Ask until two answers in a row agree: with no checksum, a flipped bit in the count
        would silently lose a record."""
        previous = await self._short(link, request, decode, size=size)
        for _ in range(self._settings.retries + 1):
            current = await self._short(link, request, decode, size=size)
            if current == previous:
                return current
            _LOGGER.debug("beurer 0x%02X: answers differ (%r, %r)", request[0], previous, current)
            previous = current
        raise MeterProtocolError(
            f"Beurer monitor gave differing answers to 0x{request[0]:02X}; check the cable"
        )

    async def _record(self, link: SerialLink, index: int) -> bm58.BpRecord | None:
        request = bm58.record_request(index)
        failure: Exception | None = None
        for attempt in range(self._settings.retries + 1):
            link.discard_input()
            await link.write(request)
            try:
                return bm58.decode_record(await self._record_reply(link))
            except (LinkTimeoutError, DecodeError) as exc:
                failure = exc
                _LOGGER.debug("beurer record %d attempt %d: %s", index, attempt + 1, exc)
        raise _give_up(request, self._settings.retries + 1, failure)

    async def _record_reply(self, link: SerialLink) -> bytes:
        timeout = self._settings.timeout_s
        while True:
            first = await link.read(1, timeout)
            if first[0] == bm58.EMPTY_SLOT:
                return first
            if first[0] == bm58.RECORD_START:
                return first + await link.read(bm58.RECORD_LEN - 1, timeout)
            _LOGGER.debug("beurer: skipping stray byte 0x%02X", first[0])


async def _read_quiet(link: SerialLink, wait_s: float) -> bytes:
    reply = bytearray(await link.read(1, wait_s))
    while True:
        try:
            reply += await link.read(1, QUIET_S)
        except LinkTimeoutError:
            return bytes(reply)
        if len(reply) > bm58.MAX_DEVICE_ID:
            raise DecodeError("reply longer than any BM58 reply", bytes(reply), 0)


def _decode_wake_tail(reply: bytes) -> None:
    bm58.decode_wake(reply[-1:])


def _sized(reply: bytes, size: int | None) -> bytes:
    if size is not None and len(reply) != size:
        raise DecodeError(f"expected a {size} byte reply, got {len(reply)}", reply, 0)
    return reply


def _give_up(request: bytes, tries: int, failure: Exception | None) -> Exception:
    if isinstance(failure, LinkTimeoutError):
        error: Exception = LinkTimeoutError(
            f"Beurer monitor did not answer 0x{request[0]:02X} after {tries} tries: switch it "
            "on, connect the cable and press MEM"
        )
    else:
        error = MeterProtocolError(
            f"Beurer monitor gave unusable replies to 0x{request[0]:02X} {tries} times: {failure}"
        )
    error.__cause__ = failure
    return error


def _key(device: DeviceIdentity, record: bm58.BpRecord) -> str:
    value = f"{record.systolic}/{record.diastolic} {record.pulse}"
    return natural_key(device.id, value, device_time=record.taken_at)
