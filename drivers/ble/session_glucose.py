"""One Glucose Service session (PROTOCOLS.md §3.6, §3.7) over a connected, bonded `BleLink`.

Flow: read the Glucose Feature, read the meter's clock (CTS 0x2A2B, a quirk's vendor clock or
a Date Time 0x2A08) to measure its offset, subscribe 0x2A18, 0x2A34 and 0x2A52 in that order,
ask RACP for the number of records newer than the cursor, then for the records themselves, and
finish on the RACP response code. Records and contexts are paired by sequence number, never by
arrival order.

The cursor (`racp_seq`, the last committed sequence number) advances only inside the sink's
commit, with the readings. A batch that did not finish (link lost, RACP error) commits
nothing: the next session asks again from the last committed sequence. A batch that finished
but had holes (undecodable frames, fewer records than counted) commits its readings without
moving the cursor, so the next session re-reads them and the stable ids make that harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from core.devices import DeviceContext
from core.reading import DeviceIdentity, Kind, Reading, reading_id
from core.sink import Cursor
from drivers.ble import uuids
from drivers.ble.convert import glucose_values
from drivers.ble.datetime_codec import decode_current_time, decode_date_time
from drivers.ble.glucose import (
    GlucoseContext,
    GlucoseMeasurement,
    decode_glucose_context,
    decode_glucose_feature,
    decode_glucose_measurement,
)
from drivers.ble.link import AttError, BleLink, LinkLostError, wait_any
from drivers.ble.quirks import (
    Quirk,
    apply_fixes,
    decode_isens_time,
    drop_reason,
    isens_get_time_command,
)
from drivers.ble.racp import (
    ATT_PROCEDURE_ALREADY_IN_PROGRESS,
    NumberOfRecordsResponse,
    Opcode,
    RacpRequest,
    RacpResponse,
    ResponseCodeResponse,
    count_all,
    count_from_sequence,
    decode_racp_response,
    encode_racp_request,
    report_all,
    report_from_sequence,
)
from drivers.ble.time_correction import TimeCorrector
from drivers.errors import DecodeError, DeviceSessionError

_LOGGER = logging.getLogger(__name__)

MEASUREMENT = uuids.uuid_str(uuids.GLUCOSE_MEASUREMENT)
CONTEXT = uuids.uuid_str(uuids.GLUCOSE_MEASUREMENT_CONTEXT)
FEATURE = uuids.uuid_str(uuids.GLUCOSE_FEATURE)
RACP = uuids.uuid_str(uuids.RECORD_ACCESS_CONTROL_POINT)
CURRENT_TIME = uuids.uuid_str(uuids.CURRENT_TIME)
CURSOR_NAME = "racp_seq"


@dataclass(frozen=True, slots=True)
class GlucoseOptions:
    racp_timeout_s: float = 30.0  # no RACP answer and no record for this long: give up
    busy_retries: int = 3  # a write refused with ATT 0x80 (procedure in progress) is retried
    busy_backoff_s: float = 1.0
    clock_timeout_s: float = 3.0  # vendor clock answer
    drop_control_solution: bool = True


@dataclass(frozen=True, slots=True)
class GlucoseOutcome:
    readings: tuple[Reading, ...]
    last_sequence: int | None
    cursor_advanced: bool
    dropped: dict[int, str]
    duplicates: int
    garbage: int


class GlucoseSession:
    def __init__(
        self,
        link: BleLink,
        ctx: DeviceContext,
        *,
        identity: DeviceIdentity,
        quirk: Quirk | None,
        corrector: TimeCorrector,
        options: GlucoseOptions | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.link = link
        self.ctx = ctx
        self.identity = identity
        self.quirk = quirk
        self.corrector = corrector
        self.options = options or GlucoseOptions()
        self._sleep = sleep
        self._measurements: dict[int, tuple[datetime, GlucoseMeasurement]] = {}
        self._contexts: dict[int, GlucoseContext] = {}
        self._responses: asyncio.Queue[RacpResponse] = asyncio.Queue()
        self._activity = asyncio.Event()
        self.duplicates = 0
        self.garbage = 0

    # -- handlers ---------------------------------------------------------------------------

    def _on_measurement(self, _uuid: str, data: bytes) -> None:
        self._activity.set()
        try:
            m = decode_glucose_measurement(data)
        except DecodeError as exc:
            self.garbage += 1
            _LOGGER.warning("%s: undecodable glucose record skipped: %s", self.link.name, exc)
            return
        if m.sequence_number in self._measurements:
            # Tidepool saw meters send a record twice; the first copy wins.
            self.duplicates += 1
            return
        self._measurements[m.sequence_number] = (self.ctx.clock(), m)

    def _on_context(self, _uuid: str, data: bytes) -> None:
        self._activity.set()
        try:
            c = decode_glucose_context(data)
        except DecodeError as exc:
            self.garbage += 1
            _LOGGER.warning("%s: undecodable glucose context skipped: %s", self.link.name, exc)
            return
        # Buffered by sequence: a context may arrive before or after its record.
        self._contexts.setdefault(c.sequence_number, c)

    def _on_racp(self, _uuid: str, data: bytes) -> None:
        self._activity.set()
        try:
            self._responses.put_nowait(decode_racp_response(data))
        except DecodeError as exc:
            self.garbage += 1
            _LOGGER.warning("%s: undecodable RACP indication: %s", self.link.name, exc)

    # -- flow -------------------------------------------------------------------------------

    async def run(self) -> GlucoseOutcome:
        if self.link.has_characteristic(FEATURE):
            try:
                feature = decode_glucose_feature(await self.link.read(FEATURE))
                _LOGGER.debug("%s: glucose features %s", self.link.name, sorted(feature.names))
            except DecodeError as exc:
                _LOGGER.warning("%s: glucose feature unreadable: %s", self.link.name, exc)
        await self._measure_clock()
        # Handlers go in before any RACP write: records can beat the write response (§3.7).
        await self.link.subscribe(MEASUREMENT, self._on_measurement)
        if self.link.has_characteristic(CONTEXT):
            await self.link.subscribe(CONTEXT, self._on_context)
        await self.link.subscribe(RACP, self._on_racp)

        cursor_text = await self.ctx.sink.get_cursor(self.identity.id, CURSOR_NAME)
        delta = self.quirk is None or not self.quirk.sequence_unreliable
        first = _next_sequence(cursor_text) if delta else None

        count_reply = await self._racp(count_from_sequence(first) if first else count_all())
        expected = count_reply.count if isinstance(count_reply, NumberOfRecordsResponse) else None
        if expected == 0:
            _LOGGER.info("%s: no new records", self.link.name)
            return self._outcome((), None, False, {})
        done = await self._racp(report_from_sequence(first) if first else report_all())
        if not isinstance(done, ResponseCodeResponse) or not (done.ok or done.no_records):
            raise DeviceSessionError(f"{self.link.name}: record transfer refused: {done}")
        for uuid in (RACP, CONTEXT, MEASUREMENT):
            await self.link.unsubscribe(uuid)
        previous = int(cursor_text) if first is not None and cursor_text else None
        return await self._commit(expected, previous)

    async def _measure_clock(self) -> None:
        """Measure the meter's clock offset; meters without clock access leave it unknown."""
        device_now: datetime | None = None
        try:
            if self.link.has_characteristic(CURRENT_TIME):
                current = decode_current_time(await self.link.read(CURRENT_TIME))
                device_now = current.date_time.to_datetime()
            elif self.quirk is not None and self.quirk.custom_time_char:
                device_now = await self._vendor_clock(self.quirk)
                if device_now is None:
                    return
            elif (
                self.quirk is not None
                and self.quirk.set_time_char
                and "read" in self.link.properties(self.quirk.set_time_char)
            ):
                raw = await self.link.read(self.quirk.set_time_char)
                device_now = decode_date_time(raw).to_datetime()
            else:
                return
        except DecodeError as exc:
            _LOGGER.warning("%s: meter clock unreadable: %s", self.link.name, exc)
        self.corrector.measure_offset(device_now, self.ctx.clock())

    async def _vendor_clock(self, quirk: Quirk) -> datetime | None:
        char = next((c for c in quirk.custom_time_char if self.link.has_characteristic(c)), None)
        if char is None:
            return None
        answer: asyncio.Queue[bytes] = asyncio.Queue()
        await self.link.subscribe(char, lambda _u, data: answer.put_nowait(data))
        await self.link.write(char, isens_get_time_command())
        try:
            async with asyncio.timeout(self.options.clock_timeout_s):
                data = await answer.get()
        except TimeoutError:
            _LOGGER.warning("%s: vendor clock did not answer", self.link.name)
            return None
        finally:
            await self.link.unsubscribe(char)
        return decode_isens_time(data).to_datetime()

    async def _racp(self, request: RacpRequest) -> RacpResponse:
        """Write one RACP op (retrying a busy refusal) and wait for its final answer."""
        payload = encode_racp_request(request)
        for attempt in range(self.options.busy_retries + 1):
            try:
                await self.link.write(RACP, payload, response=True)
                break
            except AttError as exc:
                last_try = attempt == self.options.busy_retries
                if exc.code != ATT_PROCEDURE_ALREADY_IN_PROGRESS or last_try:
                    raise
                _LOGGER.info("%s: RACP busy (ATT 0x80), retrying", self.link.name)
                await self._sleep(self.options.busy_backoff_s)
        while True:
            response = await self._next_response()
            if isinstance(response, NumberOfRecordsResponse):
                if request.opcode == Opcode.REPORT_NUMBER_OF_STORED_RECORDS:
                    return response
                continue
            if response.request_opcode == request.opcode:
                return response
            _LOGGER.debug("%s: RACP answer for another op ignored: %s", self.link.name, response)

    async def _next_response(self) -> RacpResponse:
        """The next RACP indication; records arriving keep the wait alive (slow meters)."""
        while True:
            if not self._responses.empty():
                return self._responses.get_nowait()
            if self.link.lost.is_set():
                raise LinkLostError(f"{self.link.name}: link lost during record transfer")
            self._activity.clear()
            woken = await wait_any(
                {"racp-activity": self._activity, "racp-link-lost": self.link.lost},
                self.options.racp_timeout_s,
            )
            if not woken:
                raise DeviceSessionError(
                    f"{self.link.name}: no RACP answer within {self.options.racp_timeout_s:g} s"
                )

    async def _commit(self, expected: int | None, previous: int | None) -> GlucoseOutcome:
        readings: list[Reading] = []
        dropped: dict[int, str] = {}
        delta = self.quirk is None or not self.quirk.sequence_unreliable
        for seq in sorted(self._measurements):
            if previous is not None and seq <= previous:
                continue  # already committed (a meter that ignores the ">=" filter)
            received_at, raw = self._measurements[seq]
            m = apply_fixes(raw, self.quirk)
            context = self._contexts.get(seq)
            reason = drop_reason(
                m, context, self.quirk, drop_control_solution=self.options.drop_control_solution
            )
            if reason is not None:
                _LOGGER.info("%s: record %d not a reading (%s)", self.link.name, seq, reason)
                dropped[seq] = reason
                continue
            readings.append(self._reading(seq, received_at, m, context))
        orphans = set(self._contexts) - set(self._measurements)
        if orphans:
            _LOGGER.warning("%s: contexts without a record: %s", self.link.name, sorted(orphans))
        last = max(self._measurements, default=None)
        complete = self.garbage == 0 and (expected is None or len(self._measurements) >= expected)
        cursor = None
        if delta and complete and last is not None and (previous is None or last > previous):
            cursor = Cursor(self.identity.id, str(last), CURSOR_NAME)
        elif not complete:
            _LOGGER.warning(
                "%s: transfer had holes (%d of %s records, %d undecodable): cursor kept",
                self.link.name, len(self._measurements), expected, self.garbage,
            )
        if readings or cursor is not None:
            await self.ctx.sink.commit(readings, cursor=cursor)
        return self._outcome(tuple(readings), last, cursor is not None, dropped)

    def _reading(
        self, seq: int, received_at: datetime, m: GlucoseMeasurement, context: GlucoseContext | None
    ) -> Reading:
        values = glucose_values(m, context, quirk=self.quirk)
        local = m.user_facing_time()
        corrected = self.corrector.correct(
            local,
            received_at=received_at,
            live=False,
            device_time_text=None if local is not None else m.base_time.raw_text(),
        )
        if self.quirk is not None and self.quirk.sequence_unreliable:
            # Sequence numbers repeat or run backwards on these meters: add the base time.
            key = f"{seq}@{m.base_time.raw_text()}"
        else:
            key = str(seq)
        return Reading(
            id=reading_id(self.identity, key),
            kind=Kind.GLUCOSE,
            gateway_id=self.ctx.gateway_id,
            device=self.identity,
            record_key=key,
            measured_at=corrected.measured_at,
            time_quality=corrected.quality,
            values=values,
            device_time=corrected.device_time,
            clock_offset_s=corrected.clock_offset_s,
            received_at=received_at,
            site_id=self.ctx.site_id,
        )

    def _outcome(
        self,
        readings: tuple[Reading, ...],
        last: int | None,
        advanced: bool,
        dropped: dict[int, str],
    ) -> GlucoseOutcome:
        return GlucoseOutcome(readings, last, advanced, dropped, self.duplicates, self.garbage)


def _next_sequence(cursor_text: str | None) -> int | None:
    """Last committed + 1, or None to ask for everything (no cursor, or the uint16 wrapped)."""
    if cursor_text is None or not cursor_text.strip().isdigit():
        return None
    following = int(cursor_text) + 1
    return following if following <= 0xFFFF else None
