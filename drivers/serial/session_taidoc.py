"""One session with a TaiDoc TD-42xx glucose meter or a TaiDoc/FORA BP monitor.

connect -> model -> serial (if the meter answers) -> clock -> record count -> for each record,
newest first: record time + record value, until the newest record committed earlier (the
cursor) -> commit -> optionally set the meter clock.

The protocol has no NAK: a reply that is damaged, belongs to another command or never comes is
answered by sending the request again (`SessionSettings.retries` times). Garbage before a reply
is skipped by resynchronising on the frame start byte with a valid direction and checksum.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from core.reading import (
    BloodPressure,
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    Transport,
    reading_id,
)
from drivers.errors import DecodeError
from drivers.serial import taidoc
from drivers.serial.device_time import clock_offset_s, utc_to_local
from drivers.serial.errors import LinkTimeoutError, MeterProtocolError
from drivers.serial.natural_key import natural_key
from drivers.serial.record_time import record_time
from drivers.serial.session_base import NewestFirstCommitter, SessionSettings, publish_state

if TYPE_CHECKING:
    from core.devices import DeviceContext
    from drivers.serial.link import SerialLink

_LOGGER = logging.getLogger(__name__)

# The serial-number commands are unverified: ask once, briefly, and go on without them.
_SERIAL_TIMEOUT_S = 0.5


class _BadReply(Exception):
    """A complete reply frame with a wrong checksum: resend at once instead of waiting."""


class TaiDocSession:
    """Glucose variant (TD-42xx). `TaiDocBpSession` reads the blood-pressure variant."""

    blood_pressure: ClassVar[bool] = False

    def __init__(self, settings: SessionSettings) -> None:
        self._settings = settings
        self._zone = settings.zone

    async def run(self, link: SerialLink, ctx: DeviceContext) -> None:
        s = self._settings
        reply = await self._ask(link, taidoc.request(taidoc.Command.CONNECT), connect=True)
        _LOGGER.debug("taidoc connect answered with 0x%02X", reply.command)
        model = taidoc.decode_model(
            (await self._ask(link, taidoc.request(taidoc.Command.MODEL))).payload
        )
        serial = await self._read_serial(link)
        meter_now = taidoc.decode_datetime(
            (await self._ask(link, taidoc.request(taidoc.Command.CLOCK))).payload
        )
        now = ctx.clock()
        offset = clock_offset_s(meter_now, now, self._zone)
        count = taidoc.decode_count(
            (await self._ask(link, taidoc.request(taidoc.Command.RECORD_COUNT))).payload
        )
        device = DeviceIdentity(
            transport=Transport.SERIAL,
            address=s.port,
            manufacturer="TaiDoc",
            model=f"TD-{model}",
            serial=serial,
        )
        _LOGGER.info(
            "taidoc TD-%s: %d records, clock offset %.0f s", model, count, offset
        )
        committer = await NewestFirstCommitter.start(ctx, device.id, s.batch)
        publish_state(ctx, "transferring", f"{count} records")
        key_serial = serial or device.id
        for index in range(count):
            taken = taidoc.decode_datetime(
                (await self._ask(link, taidoc.record_request(taidoc.Command.RECORD_TIME, index)))
                .payload
            )
            value = (
                await self._ask(link, taidoc.record_request(taidoc.Command.RECORD_VALUE, index))
            ).payload
            key, reading = self._reading(ctx, device, key_serial, taken, value, offset, now)
            if committer.is_known(key):
                break
            await committer.add(key, reading)
        await committer.finish()
        _LOGGER.info(
            "taidoc TD-%s: %d new, %d already stored",
            model,
            committer.stats.stored,
            committer.stats.duplicates,
        )
        if s.set_clock:
            await self._set_clock(link, ctx)

    def _reading(
        self,
        ctx: DeviceContext,
        device: DeviceIdentity,
        key_serial: str,
        taken: datetime,
        payload: bytes,
        offset: float,
        now: datetime,
    ) -> tuple[str, Reading]:
        decided = record_time(taken, offset, self._zone, now)
        values: BloodPressure | Glucose
        if self.blood_pressure:
            bp = taidoc.decode_bp(payload)
            value_text = f"{bp.systolic}/{bp.diastolic} {bp.pulse}"
            if bp.extra:  # unpublished byte M2: it may be what tells two records apart
                value_text += f" m2:{bp.extra:02x}"
            values = BloodPressure(
                systolic_mmhg=float(bp.systolic),
                diastolic_mmhg=float(bp.diastolic),
                map_mmhg=None,
                pulse_bpm=float(bp.pulse),
            )
            kind = Kind.BLOOD_PRESSURE
        else:
            glucose = taidoc.decode_glucose(payload)
            # Every field is in the key: two tests in one minute with one value but different
            # meal flags are two records. Set flags follow the value, so a record without
            # them keeps the key earlier releases gave it.
            value_text = f"{glucose.mgdl} mg/dL"
            if glucose.meal_byte:
                value_text += f" meal:{glucose.meal_byte:02x}"
            if glucose.unknown:
                value_text += f" m3:{glucose.unknown:02x}"
            out_of_range = glucose.hi or glucose.lo
            values = Glucose(
                glucose_mgdl=None if out_of_range else float(glucose.mgdl),
                original_unit="mg/dL",
                original_value=float(glucose.mgdl),
                sample_type="capillary_whole_blood",
                meal=glucose.meal,
                hi=glucose.hi,
                lo=glucose.lo,
            )
            kind = Kind.GLUCOSE
        key = natural_key(key_serial, value_text, device_time=taken)
        reading = Reading(
            id=reading_id(device, key),
            kind=kind,
            gateway_id=ctx.gateway_id,
            device=device,
            record_key=key,
            measured_at=decided.measured_at,
            time_quality=decided.quality,
            values=values,
            device_time=taken.isoformat(),
            clock_offset_s=offset,
            received_at=now,
            site_id=ctx.site_id,
        )
        return key, reading

    async def _read_serial(self, link: SerialLink) -> str | None:
        parts: list[str] = []
        for command in (taidoc.Command.SERIAL_1, taidoc.Command.SERIAL_2):
            try:
                reply = await self._ask(
                    link, taidoc.request(command), wait_s=_SERIAL_TIMEOUT_S, retries=0
                )
                parts.append(taidoc.decode_serial_part(reply.payload))
            except (LinkTimeoutError, MeterProtocolError, DecodeError) as exc:
                _LOGGER.debug("taidoc serial number not available: %s", exc)
                return None
        return "".join(parts)

    async def _set_clock(self, link: SerialLink, ctx: DeviceContext) -> None:
        local = utc_to_local(ctx.clock(), self._zone).replace(second=0, microsecond=0)
        reply = await self._ask(link, taidoc.set_clock_request(local))
        echoed = taidoc.decode_datetime(reply.payload)
        if echoed != local:
            raise MeterProtocolError(
                f"meter clock set to {local:%Y-%m-%d %H:%M} but it reports {echoed:%Y-%m-%d %H:%M}"
            )
        _LOGGER.info("taidoc clock set to %s", local.isoformat())

    async def _ask(
        self,
        link: SerialLink,
        request: bytes,
        *,
        connect: bool = False,
        wait_s: float | None = None,
        retries: int | None = None,
    ) -> taidoc.Frame:
        """Send `request` and return the meter's matching reply, resending on failure."""
        wanted = request[1]
        limit = self._settings.retries if retries is None else retries
        wait = self._settings.timeout_s if wait_s is None else wait_s
        failure: Exception | None = None
        for attempt in range(limit + 1):
            dropped = link.discard_input()
            if dropped:
                _LOGGER.debug("taidoc: dropped %d stray bytes", len(dropped))
            await link.write(request)
            try:
                reply = await self._read_reply(link, wanted, wait, connect=connect)
            except (LinkTimeoutError, _BadReply) as exc:
                failure = exc
                _LOGGER.debug("taidoc 0x%02X attempt %d failed: %s", wanted, attempt + 1, exc)
                continue
            return reply
        if isinstance(failure, LinkTimeoutError):
            raise LinkTimeoutError(
                f"TaiDoc meter did not answer command 0x{wanted:02X} after {limit + 1} tries: "
                "is it switched on and connected?"
            ) from failure
        raise MeterProtocolError(
            f"TaiDoc meter sent damaged replies to command 0x{wanted:02X} {limit + 1} times"
        ) from failure

    async def _read_reply(
        self, link: SerialLink, wanted: int, wait_s: float, *, connect: bool
    ) -> taidoc.Frame:
        try:
            async with asyncio.timeout(wait_s):
                return await self._scan_reply(link, wanted, wait_s, connect=connect)
        except TimeoutError as exc:
            # A line that keeps babbling never times out byte-wise; the reply as a whole does.
            raise LinkTimeoutError(f"no reply to 0x{wanted:02X} within {wait_s:g} s") from exc

    async def _scan_reply(
        self, link: SerialLink, wanted: int, wait_s: float, *, connect: bool
    ) -> taidoc.Frame:
        buffer = bytearray()
        while True:
            buffer += await link.read(1, wait_s)
            buffer += link.discard_input()
            frame, used = taidoc.find_frame(bytes(buffer))
            if frame is None:
                _raise_if_damaged(bytes(buffer))
                del buffer[:used]
                continue
            del buffer[:used]
            matches = (
                frame.command in taidoc.CONNECT_REPLIES if connect else frame.command == wanted
            )
            if matches:
                return frame
            _LOGGER.debug("taidoc: ignoring reply 0x%02X to 0x%02X", frame.command, wanted)


def _raise_if_damaged(buffer: bytes) -> None:
    start = buffer.find(bytes([taidoc.START]))
    while 0 <= start <= len(buffer) - taidoc.FRAME_LEN:
        candidate = buffer[start : start + taidoc.FRAME_LEN]
        if candidate[6] == taidoc.FROM_METER and candidate[7] != taidoc.frame_sum(candidate):
            raise _BadReply(f"reply with a bad checksum: {candidate.hex(' ')}")
        start = buffer.find(bytes([taidoc.START]), start + 1)


class TaiDocBpSession(TaiDocSession):
    blood_pressure = True
