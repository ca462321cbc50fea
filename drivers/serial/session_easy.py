"""One session with a OneTouch Ultra Easy / Ultra Mini over the binary framed protocol.

Link handling (our reading of the LifeScan link layer; the meter's own retransmission rules are
not public, so recovery never relies on them): each request goes out as a data frame carrying
our send bit S and expected-receive bit E; the meter ACKs it with an empty frame, then sends its
answer with its send bit equal to our E; we flip E and ACK. A frame repeating the previous send
bit is a retransmission: ACK it again and keep waiting. On anything wrong (bad CRC, garbage,
silence, an unexpected answer) the line is drained and the link is restarted with a DISC
exchange, which resets both bits on both sides, and the request is sent again.

Order: DISC, version, serial, clock (offset measured once), unit, record count (record 501),
records 0..count-1 (newest first, stopping at the cursor; committed oldest first), clock set
(option ``set_clock``) after the last commit, DISC.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from core.devices import DeviceContext
from core.reading import DeviceIdentity, Transport
from drivers.errors import DecodeError
from drivers.serial import onetouch_easy as easy
from drivers.serial.device_time import utc_to_local
from drivers.serial.errors import LinkTimeoutError, MeterProtocolError
from drivers.serial.link import SerialLink
from drivers.serial.natural_key import natural_key
from drivers.serial.session_base import (
    MeterClock,
    NewestFirstCommitter,
    SessionSettings,
    glucose_reading,
    glucose_values,
    publish_state,
)

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

MANUFACTURER = "LifeScan"
MODEL = "OneTouch Ultra Easy"
QUIET_S = 0.1


class _LinkStateError(Exception):
    """Internal: the meter's link-control bits do not fit the exchange (resync)."""


class UltraEasySession:
    def __init__(self, settings: SessionSettings) -> None:
        self._settings = settings
        self._zone = settings.zone
        self._send_bit = False
        self._expect_bit = False

    async def run(self, link: SerialLink, ctx: DeviceContext) -> None:
        s = self._settings
        await self._start(link)
        version = await self._request(link, easy.ReadVersion(), easy.decode_version)
        serial = await self._request(link, easy.ReadSerial(), easy.decode_serial)
        meter_time = await self._request(link, easy.ReadClock(), easy.decode_clock)
        clock = MeterClock.measure(meter_time, ctx.clock(), self._zone)
        unit = await self._request(link, easy.ReadUnit(), easy.decode_unit)
        count = await self._request(link, easy.ReadRecord(easy.COUNT_RECORD), easy.decode_count)
        device = DeviceIdentity(
            transport=Transport.SERIAL,
            address=s.port,
            manufacturer=MANUFACTURER,
            model=MODEL,
            serial=serial,
            firmware=version,
        )
        _LOGGER.info(
            "%s %s: %d records, display unit %s, clock offset %.0f s",
            MODEL, ctx.config.name, count, unit, clock.offset_s or 0.0,
        )
        committer = await NewestFirstCommitter.start(ctx, device.id, s.batch)
        publish_state(ctx, "transferring", f"{count} records")
        for index in range(min(count, easy.MAX_RECORDS)):
            record = await self._request(link, easy.ReadRecord(index), easy.decode_record)
            key = natural_key(serial, str(record.value_mgdl), device_time=record.time)
            values = glucose_values(record.value_mgdl)
            reading = glucose_reading(ctx, device, key, record.time, values, clock)
            if not await committer.offer(key, reading):
                break
        await committer.finish()
        _LOGGER.info(
            "%s: %d new readings, %d already stored",
            ctx.config.name, committer.stats.stored, committer.stats.duplicates,
        )
        if s.set_clock:
            wanted = utc_to_local(ctx.clock(), self._zone).replace(microsecond=0)
            answer = await self._request(link, easy.SetClock(wanted), easy.decode_clock)
            _LOGGER.info("%s: meter clock set to %s", ctx.config.name, answer.isoformat())
        try:
            await self._connect(link)  # DISC ends the session on the meter too
        except (LinkTimeoutError, DecodeError) as exc:
            _LOGGER.debug("%s: closing DISC not answered: %s", ctx.config.name, exc)

    # -- link layer -------------------------------------------------------------------------

    async def _start(self, link: SerialLink) -> None:
        last_error: Exception | None = None
        for attempt in range(self._settings.retries + 1):
            if attempt:
                await link.drain(QUIET_S, self._settings.timeout_s)
            try:
                await self._connect(link)
            except (DecodeError, LinkTimeoutError) as exc:
                last_error = exc
                _LOGGER.debug("DISC attempt %d: %s", attempt + 1, exc)
                continue
            return
        raise MeterProtocolError(
            f"no answer to the opening DISC after {self._settings.retries + 1} tries; is the "
            f"meter switched off with its cable plugged in? (last error: {last_error})"
        ) from last_error

    async def _connect(self, link: SerialLink) -> None:
        """DISC exchange: both sides reset their sequence bits."""
        await link.write(easy.encode_frame(easy.DISCONNECT))
        while True:
            frame = await self._next_frame(link)
            if not frame.message and (frame.link.disconnect or frame.link.ack):
                break
        self._send_bit = False
        self._expect_bit = False

    async def _request(
        self, link: SerialLink, request: easy.Request, decode: Callable[[bytes], T]
    ) -> T:
        s = self._settings
        last_error: Exception | None = None
        for attempt in range(s.retries + 1):
            if attempt:
                dropped = await link.drain(QUIET_S, s.timeout_s)
                _LOGGER.debug("resync after %r: dropped %d bytes", last_error, len(dropped))
                try:
                    await self._connect(link)
                except (DecodeError, LinkTimeoutError) as exc:
                    last_error = exc
                    continue
            try:
                message = await self._exchange(link, easy.encode_request(request))
                if easy.is_refusal(message):
                    raise MeterProtocolError(
                        f"the meter refused {type(request).__name__} (status {message[1]:#04x})"
                    )
                return decode(message)
            except (DecodeError, LinkTimeoutError, _LinkStateError) as exc:
                last_error = exc
                _LOGGER.debug("%s attempt %d: %s", type(request).__name__, attempt + 1, exc)
        raise MeterProtocolError(
            f"no valid answer to {type(request).__name__} after {s.retries + 1} tries; is the "
            f"meter switched off with its cable plugged in? (last error: {last_error})"
        ) from last_error

    async def _exchange(self, link: SerialLink, message: bytes) -> bytes:
        frame = easy.Frame(easy.LinkControl(sequence=self._send_bit, expect=self._expect_bit),
                           message)
        await link.write(easy.encode_frame(frame))
        acked = False
        while True:
            answer = await self._next_frame(link)
            if answer.link.disconnect:
                raise _LinkStateError("the meter disconnected mid-request")
            if not answer.message:
                if answer.link.ack and not acked:
                    acked = True
                    self._send_bit = not self._send_bit
                continue  # a repeated ACK
            if not acked:
                # The ACK got lost but the answer came: the request evidently arrived.
                acked = True
                self._send_bit = not self._send_bit
            if answer.link.sequence != self._expect_bit:
                # A retransmission of an answer we already took: ACK it again, wait on.
                await self._send_ack(link, self._expect_bit)
                continue
            self._expect_bit = not self._expect_bit
            await self._send_ack(link, self._expect_bit)
            return answer.message

    async def _send_ack(self, link: SerialLink, expect: bool) -> None:
        ack = easy.Frame(easy.LinkControl(sequence=self._send_bit, expect=expect, ack=True))
        await link.write(easy.encode_frame(ack))

    async def _next_frame(self, link: SerialLink) -> easy.Frame:
        timeout = self._settings.timeout_s
        want = 1
        while True:
            scan = easy.find_frame(await link.peek(want, timeout))
            if scan.used:
                await link.read(scan.used, timeout)
            if scan.noise:
                _LOGGER.debug("skipped %d noise bytes", len(scan.noise))
            if scan.error is not None:
                raise scan.error
            if scan.frame is not None:
                return scan.frame
            want = len(link.buffered()) + 1
