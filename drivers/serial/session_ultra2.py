"""One session with a OneTouch Ultra 2 / Ultra: identify, read the clock, dump, commit.

Order: ``DM?`` version, ``DM@`` serial, ``DMF`` clock (the offset is measured here, once),
``DMP`` dump (its header carries the display unit, so ``DMSU?`` is not needed). The dump comes
newest first and is read down to the cursor, then committed oldest first (`NewestFirstCommitter`);
the clock is set (``DMT``, option ``set_clock``) only after the last commit, so every record of
this session is corrected with the offset of the clock that stamped it.

Each one-line question is retried (``settings.retries``) on a bad checksum, garbage or silence;
before a retry the line is drained until quiet, so the rest of a garbled answer is not taken as
the next one. A bad line inside the dump restarts the dump (the protocol cannot resend one line);
nothing of the broken attempt has been committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from core.devices import DeviceContext
from core.reading import DeviceIdentity, Glucose, Transport
from drivers.errors import DecodeError
from drivers.serial import onetouch_ultra2 as ultra2
from drivers.serial.device_time import utc_to_local
from drivers.serial.errors import LinkTimeoutError, MeterNotReadyError, MeterProtocolError
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
QUIET_S = 0.2  # the meter sends a whole answer without pauses; 0.2 s of silence ends it
# ~60 bytes per dump line at 9600 baud is ~60 ms; allow generous slack per line.
DUMP_LINE_TIMEOUT_S = 2.0


class Ultra2Session:
    def __init__(self, settings: SessionSettings) -> None:
        self._settings = settings
        self._zone = settings.zone

    async def run(self, link: SerialLink, ctx: DeviceContext) -> None:
        s = self._settings
        version = await self._ask(link, ultra2.Command(ultra2.CMD_VERSION), ultra2.decode_version)
        serial = await self._ask(link, ultra2.Command(ultra2.CMD_SERIAL), ultra2.decode_serial)
        meter_clock = await self._ask(
            link, ultra2.Command(ultra2.CMD_READ_CLOCK), ultra2.decode_clock
        )
        clock = MeterClock.measure(meter_clock.time, ctx.clock(), self._zone)
        device = DeviceIdentity(
            transport=Transport.SERIAL,
            address=s.port,
            manufacturer=MANUFACTURER,
            # Ultra 2 serial numbers end in Y; the original Ultra's do not.
            model="OneTouch Ultra 2" if serial.endswith("Y") else "OneTouch Ultra",
            serial=serial,
            firmware=version,
        )
        _LOGGER.info(
            "%s %s: clock offset %.0f s", device.model, ctx.config.name, clock.offset_s or 0.0
        )
        committer = await NewestFirstCommitter.start(ctx, device.id, s.batch)
        publish_state(ctx, "transferring")
        await self._dump(link, ctx, device, clock, committer)
        await committer.finish()
        _LOGGER.info(
            "%s: %d new readings, %d already stored",
            ctx.config.name, committer.stats.stored, committer.stats.duplicates,
        )
        if s.set_clock:
            await self._set_clock(link, ctx)

    async def _dump(
        self,
        link: SerialLink,
        ctx: DeviceContext,
        device: DeviceIdentity,
        clock: MeterClock,
        committer: NewestFirstCommitter,
    ) -> None:
        last_error: Exception | None = None
        for attempt in range(self._settings.retries + 1):
            if attempt:
                await link.drain(QUIET_S, self._settings.timeout_s * 4)
            await link.write(ultra2.encode_command(ultra2.Command(ultra2.CMD_DUMP)))
            try:
                header = ultra2.decode_dump_header(await self._line(link, self._settings.timeout_s))
                _LOGGER.debug("%s: dump of %d records, display unit %s",
                              ctx.config.name, header.count, header.unit)
                for _ in range(header.count):
                    record = ultra2.decode_record(await self._line(link, DUMP_LINE_TIMEOUT_S))
                    key = natural_key(header.serial, record.key_value, device_time=record.time)
                    reading = glucose_reading(ctx, device, key, record.time, _values(record), clock)
                    if not await committer.offer(key, reading):
                        # Older records follow, committed before. The meter sends them all
                        # anyway; wait them out only if another command must follow.
                        if self._settings.set_clock:
                            await link.drain(QUIET_S, DUMP_LINE_TIMEOUT_S * header.count)
                        return
            except (DecodeError, LinkTimeoutError) as exc:
                last_error = exc
                _LOGGER.warning("%s: dump attempt %d failed: %s", ctx.config.name,
                                attempt + 1, exc)
                continue
            return
        raise MeterProtocolError(
            f"{ctx.config.name}: memory dump failed {self._settings.retries + 1} times; "
            f"check the cable (last error: {last_error})"
        ) from last_error

    async def _set_clock(self, link: SerialLink, ctx: DeviceContext) -> None:
        wanted = utc_to_local(ctx.clock(), self._zone).replace(microsecond=0)
        answer = await self._ask(link, ultra2.set_clock_command(wanted), ultra2.decode_clock)
        if not answer.was_set:
            raise MeterProtocolError("the meter answered DMT with a clock read, not a set")
        _LOGGER.info("%s: meter clock set to %s", ctx.config.name, answer.time.isoformat())

    async def _ask(
        self, link: SerialLink, command: ultra2.Command, decode: Callable[[bytes], T]
    ) -> T:
        last_error: Exception | None = None
        for attempt in range(self._settings.retries + 1):
            if attempt:
                await link.drain(QUIET_S, self._settings.timeout_s)
            await link.write(ultra2.encode_command(command))
            try:
                return decode(await self._line(link, self._settings.timeout_s))
            except (DecodeError, LinkTimeoutError) as exc:
                last_error = exc
                _LOGGER.debug("%s attempt %d: %s", command.name, attempt + 1, exc)
        raise MeterProtocolError(
            f"no valid answer to {command.name} after {self._settings.retries + 1} tries; is the "
            f"meter switched off and its cable plugged in? (last error: {last_error})"
        ) from last_error

    async def _line(self, link: SerialLink, wait_s: float) -> bytes:
        try:
            return await link.read_until(ultra2.LINE_END, wait_s)
        except LinkTimeoutError as exc:
            pending = link.buffered()
            if b"\x00" in pending and not pending.strip(b"\x00\r\n"):
                raise MeterNotReadyError(
                    "the meter answered NUL: switch it off, check the cable, try again"
                ) from exc
            raise


def _values(record: ultra2.Record) -> Glucose:
    flags = frozenset({"parity_error"}) if record.parity_error else frozenset()
    return glucose_values(
        record.value_mgdl, control=record.control, meal=record.meal, flags=flags,
        lo_below=ultra2.LO_BELOW_MGDL, hi_above=ultra2.HI_ABOVE_MGDL,
    )
