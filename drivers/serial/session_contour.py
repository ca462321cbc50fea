"""One session with a Bayer/Ascensia Contour meter over its serial (FTDI) cable.

The host pokes the meter with EOT until it bids (ENQ), ACKs the bid, then ACKs every good
frame and NAKs damaged ones until the meter sends EOT. The header record carries the meter's
serial number and its clock at the moment of the transfer (the clock offset); result records
follow. The results newer than the newest one committed earlier (the cursor) are committed
oldest first, after EOT: the meter decides the pace, so nothing is committed from a transfer
cut short.

Setting a Contour's clock needs the meter's command mode, whose handshake differs per model
(PROTOCOLS.md 6.3 quirks); it is not implemented, so `set_clock` only logs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from core.reading import DeviceIdentity, Glucose, Kind, Reading, Transport, reading_id
from drivers.errors import DecodeError
from drivers.serial import astm, contour
from drivers.serial.device_time import clock_offset_s
from drivers.serial.errors import LinkTimeoutError, MeterProtocolError
from drivers.serial.natural_key import natural_key
from drivers.serial.record_time import record_time
from drivers.serial.session_base import NewestFirstCommitter, SessionSettings, publish_state

if TYPE_CHECKING:
    from core.devices import DeviceContext
    from drivers.serial.link import SerialLink

_LOGGER = logging.getLogger(__name__)

# E1381 lets a sender try a frame six times; we NAK as often before giving up.
_MAX_NAKS_PER_FRAME = 6

_METHODS = {"P": "capillary_plasma", "B": "capillary_whole_blood", "C": "capillary_whole_blood"}


@dataclass(slots=True)
class _Transfer:
    header: contour.HeaderRecord | None = None
    delimiters: contour.Delimiters = contour.STANDARD
    results: dict[str, contour.ResultRecord] = field(default_factory=dict)
    done: bool = False


class ContourSession:
    def __init__(self, settings: SessionSettings) -> None:
        self._settings = settings
        self._zone = settings.zone

    async def run(self, link: SerialLink, ctx: DeviceContext) -> None:
        receiver = astm.AstmReceiver()
        await self._establish(link, receiver)
        publish_state(ctx, "transferring")
        transfer = await self._receive(link, receiver)
        header = transfer.header
        if header is None:
            raise MeterProtocolError("Contour transfer ended without a header record")
        now = ctx.clock()
        offset = (
            clock_offset_s(header.meter_time, now, self._zone) if header.meter_time else None
        )
        device = DeviceIdentity(
            transport=Transport.SERIAL,
            address=self._settings.port,
            manufacturer="Ascensia",
            model=header.product_code,
            serial=header.serial or None,
            firmware=header.versions[0] if header.versions else None,
        )
        committer = await NewestFirstCommitter.start(ctx, device.id, self._settings.batch)
        newest_first = sorted(
            transfer.results.items(),
            key=lambda item: (item[1].taken_at, item[1].sequence),
            reverse=True,
        )
        for key, result in newest_first:
            if committer.is_known(key):
                break
            await committer.add(key, self._reading(ctx, device, key, result, offset, now))
        await committer.finish()
        _LOGGER.info(
            "contour %s: %d results, %d new, %d already stored, clock offset %s s",
            header.product_code,
            len(transfer.results),
            committer.stats.stored,
            committer.stats.duplicates,
            "?" if offset is None else f"{offset:.0f}",
        )
        if self._settings.set_clock:
            _LOGGER.warning("contour: setting the meter clock is not supported; left as is")

    async def _establish(self, link: SerialLink, receiver: astm.AstmReceiver) -> None:
        timeout = self._settings.timeout_s
        for attempt in range(self._settings.retries + 1):
            link.discard_input()
            await link.write(bytes([astm.EOT]))
            try:
                while True:
                    chunk = await link.read(1, timeout)
                    events = receiver.feed(chunk + link.discard_input())
                    if any(isinstance(e, astm.Enquiry) for e in events):
                        await link.write(bytes([astm.ACK]))
                        return
            except LinkTimeoutError:
                _LOGGER.debug("contour: no ENQ after poke %d", attempt + 1)
        raise LinkTimeoutError(
            "Contour meter did not bid for the line: is it switched on and in transfer mode?"
        )

    async def _receive(self, link: SerialLink, receiver: astm.AstmReceiver) -> _Transfer:
        transfer = _Transfer()
        naks = 0
        timeout = self._settings.timeout_s
        while not transfer.done:
            try:
                chunk = await link.read(1, timeout)
            except LinkTimeoutError:
                # A frame cut short (or our ACK lost): ask for it again.
                naks += 1
                if naks > _MAX_NAKS_PER_FRAME:
                    raise
                link.discard_input()
                receiver.drop_pending()
                _LOGGER.debug("contour: silence mid-transfer, NAK %d", naks)
                await link.write(bytes([astm.NAK]))
                continue
            for event in receiver.feed(chunk + link.discard_input()):
                reply = astm.reply_for(event)
                if isinstance(event, astm.FrameRejected):
                    naks += 1
                    _LOGGER.debug("contour: NAK %d: %s", naks, event.error.reason)
                    if naks > _MAX_NAKS_PER_FRAME:
                        raise MeterProtocolError(
                            f"Contour frame still damaged after {naks} tries: "
                            f"{event.error.reason}; check the cable"
                        ) from event.error
                elif isinstance(event, astm.FrameAccepted):
                    naks = 0
                    for text in event.records:
                        self._take_record(transfer, text)
                elif isinstance(event, astm.Enquiry):
                    _LOGGER.debug("contour: meter restarted the transfer")
                elif isinstance(event, astm.EndOfTransmission):
                    if naks:
                        # E1381: a sender gives up after six tries and ends with EOT.
                        raise MeterProtocolError(
                            f"Contour meter abandoned the transfer after {naks} damaged "
                            "frames; check the cable"
                        )
                    transfer.done = True
                elif isinstance(event, astm.Noise):
                    _LOGGER.debug("contour: %d noise bytes ignored", len(event.data))
                if reply is not None:
                    await link.write(reply)
        return transfer

    def _take_record(self, transfer: _Transfer, text: bytes) -> None:
        try:
            if text[:1] == b"H":
                transfer.delimiters = contour.delimiters_from_header(text)
            record = contour.decode_record(text, transfer.delimiters)
        except DecodeError as exc:
            if text[:1] == b"H":
                raise MeterProtocolError(f"Contour header not understood: {exc}") from exc
            # A checksum-valid record we cannot read is a format we do not know: skip it.
            _LOGGER.warning("contour: skipping an unreadable record: %s", exc.reason)
            return
        if isinstance(record, contour.HeaderRecord):
            transfer.header = record
        elif isinstance(record, contour.ResultRecord):
            if transfer.header is None:
                raise MeterProtocolError("Contour result record before the header")
            serial = transfer.header.serial or f"port:{self._settings.port}"
            transfer.results[_key(serial, record)] = record

    def _reading(
        self,
        ctx: DeviceContext,
        device: DeviceIdentity,
        key: str,
        result: contour.ResultRecord,
        offset: float | None,
        now: datetime,
    ) -> Reading:
        decided = record_time(result.taken_at, offset, self._zone, now)
        values = Glucose(
            glucose_mgdl=result.glucose_mgdl,
            original_unit=result.unit,
            original_value=float(result.value),
            sample_type="control_solution" if result.control else _METHODS.get(result.method),
            meal=result.meal,
            control_solution=result.control,
            hi=result.hi,
            lo=result.lo,
            sensor_status=frozenset(f"marker:{m}" for m in result.markers),
        )
        return Reading(
            id=reading_id(device, key),
            kind=Kind.GLUCOSE,
            gateway_id=ctx.gateway_id,
            device=device,
            record_key=key,
            measured_at=decided.measured_at,
            time_quality=decided.quality,
            values=values,
            device_time=result.taken_at.isoformat(),
            clock_offset_s=offset,
            received_at=now,
            site_id=ctx.site_id,
        )


def _key(serial: str, result: contour.ResultRecord) -> str:
    # Every marker is part of the key: two tests in one minute with one value but different
    # meal markers (B, A, ...) are two records, and dropping one silently is the worse error.
    # Control and HI/LO keep their place in front of the value, and the other markers follow
    # it, so a record without them keeps the key (and reading id) earlier releases gave it.
    fixed = "".join(m for m in result.markers if m in _VALUE_MARKERS)
    others = "/".join(m for m in result.markers if m not in _VALUE_MARKERS)
    value = f"{fixed} {result.value} {result.unit}".strip()
    if others:
        value = f"{value} {others}"
    return natural_key(serial, value, device_time=result.taken_at)


_VALUE_MARKERS = ("C", ">", "<")
