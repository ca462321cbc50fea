"""One Blood Pressure Service session (PROTOCOLS.md §2.5) over a connected `BleLink`.

Flow: settle (Beurer needs ~100 ms), the quirk's "send all" command (A&D), the device clock
(read it to measure the offset when readable, then write it where the model needs it), notify
on 0x2A36 for live cuff pressure (published as `CuffPressure` events), indicate on 0x2A35, and
collect every stored result until the monitor disconnects by itself (or stays quiet for
`idle_timeout_s`). Then convert, correct times and commit through `ctx.sink`.

BP monitors have no record number: a reading's id is derived from the device's timestamp and
values, so reading the same memory again gives the same ids.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from core.devices import DeviceContext
from core.events import CuffPressure
from core.reading import DeviceIdentity, Kind, Reading, reading_id, values_fingerprint
from core.units import MMHG_PER_KPA
from drivers.ble import uuids
from drivers.ble.bp import (
    BloodPressureMeasurement,
    PressureUnit,
    decode_bp_measurement,
    decode_intermediate_cuff_pressure,
)
from drivers.ble.convert import bp_values
from drivers.ble.datetime_codec import BleDateTime, decode_date_time, encode_date_time
from drivers.ble.link import BleLink, wait_any
from drivers.ble.quirks import Quirk
from drivers.ble.time_correction import TimeCorrector
from drivers.errors import DecodeError

_LOGGER = logging.getLogger(__name__)

BP_MEASUREMENT = uuids.uuid_str(uuids.BLOOD_PRESSURE_MEASUREMENT)
CUFF_PRESSURE = uuids.uuid_str(uuids.INTERMEDIATE_CUFF_PRESSURE)
DATE_TIME = uuids.uuid_str(uuids.DATE_TIME)


@dataclass(frozen=True, slots=True)
class BpOptions:
    idle_timeout_s: float = 15.0  # quiet this long after the last result: we end the session
    max_session_s: float = 120.0  # hard stop for a monitor that never disconnects
    write_clock: bool = False  # write Date Time 0x2A08 if the monitor has it (A&D always)


@dataclass(frozen=True, slots=True)
class _Received:
    at: datetime
    measurement: BloodPressureMeasurement


class BpSession:
    def __init__(
        self,
        link: BleLink,
        ctx: DeviceContext,
        *,
        identity: DeviceIdentity,
        quirk: Quirk | None,
        corrector: TimeCorrector,
        options: BpOptions | None = None,
    ) -> None:
        self.link = link
        self.ctx = ctx
        self.identity = identity
        self.quirk = quirk
        self.corrector = corrector
        self.options = options or BpOptions()
        self._received: list[_Received] = []
        self._activity = asyncio.Event()
        self.garbage = 0

    # -- notification handlers (bleak calls them on the loop thread) ------------------------

    def _on_measurement(self, _uuid: str, data: bytes) -> None:
        decode = (
            self.quirk.decode_bp
            if self.quirk is not None and self.quirk.decode_bp is not None
            else decode_bp_measurement
        )
        try:
            measurement = decode(data)
        except DecodeError as exc:
            self.garbage += 1
            _LOGGER.warning("%s: undecodable BP measurement skipped: %s", self.link.name, exc)
            return
        self._received.append(_Received(self.ctx.clock(), measurement))
        self._activity.set()

    def _on_cuff(self, _uuid: str, data: bytes) -> None:
        try:
            icp = decode_intermediate_cuff_pressure(data)
        except DecodeError as exc:
            _LOGGER.debug("%s: undecodable cuff pressure: %s", self.link.name, exc)
            return
        value = icp.cuff_pressure.decimal
        if value is None:
            return
        mmhg = float(value * MMHG_PER_KPA) if icp.unit is PressureUnit.KPA else float(value)
        self.ctx.events.publish(CuffPressure(self.ctx.config.name, round(mmhg, 1)))
        self._activity.set()

    # -- flow -------------------------------------------------------------------------------

    async def run(self) -> list[Reading]:
        """Collect, convert and commit. Returns the readings handed to the sink."""
        quirk = self.quirk
        if quirk is not None and quirk.subscribe_delay_s:
            # Beurer BM85 stays silent when indications are enabled right after discovery.
            await asyncio.sleep(quirk.subscribe_delay_s)
        if (
            quirk is not None
            and quirk.send_all_command
            and quirk.send_all_char
            and self.link.has_characteristic(quirk.send_all_char)
        ):
            await self.link.write(quirk.send_all_char, quirk.send_all_command)
        await self._clock()
        if self.link.has_characteristic(CUFF_PRESSURE):
            await self.link.subscribe(CUFF_PRESSURE, self._on_cuff)
        await self.link.subscribe(BP_MEASUREMENT, self._on_measurement)
        await self._collect()
        await self.link.unsubscribe(BP_MEASUREMENT)
        readings = self._readings()
        if readings:
            await self.ctx.sink.commit(readings)
        return readings

    async def _clock(self) -> None:
        clock_char = None
        if self.quirk is not None and self.quirk.set_time_char:
            clock_char = self.quirk.set_time_char
        elif self.options.write_clock:
            clock_char = DATE_TIME
        if clock_char is None or not self.link.has_characteristic(clock_char):
            return
        if "read" in self.link.properties(clock_char):
            try:
                device_now = decode_date_time(await self.link.read(clock_char)).to_datetime()
            except DecodeError as exc:
                _LOGGER.warning("%s: device clock unreadable: %s", self.link.name, exc)
                device_now = None
            # Records already in memory were stamped with the old clock: measure it first.
            self.corrector.measure_offset(device_now, self.ctx.clock())
        local_now = self.ctx.clock().astimezone(self.corrector.zone).replace(tzinfo=None)
        await self.link.write(clock_char, encode_date_time(BleDateTime.from_datetime(local_now)))

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.max_session_s
        while not self.link.lost.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                _LOGGER.info("%s: session time limit reached", self.link.name)
                return
            self._activity.clear()
            woken = await wait_any(
                {"bp-activity": self._activity, "bp-link-lost": self.link.lost},
                min(self.options.idle_timeout_s, remaining),
            )
            if not woken:
                _LOGGER.info("%s: no more results after %.1f s idle", self.link.name,
                             self.options.idle_timeout_s)
                return

    def _readings(self) -> list[Reading]:
        readings: list[Reading] = []
        last = len(self._received) - 1
        seen: set[str] = set()
        for index, item in enumerate(self._received):
            m = item.measurement
            values = bp_values(m)
            stamp = m.time_stamp
            local = stamp.to_datetime() if stamp is not None else None
            text = stamp.raw_text() if stamp is not None and local is None else None
            corrected = self.corrector.correct(
                local,
                received_at=item.at,
                # The newest result usually was just measured: its receive time is a fair
                # stand-in when the monitor's clock cannot be used; older ones it is not.
                live=index == last,
                device_time_text=text,
            )
            # No record number on BLS: device time + values identify a stored result.
            natural = f"{corrected.device_time or 'no-time:' + item.at.isoformat()}"
            fallback = f"{natural}|{values_fingerprint(values)}"
            rid = reading_id(self.identity, None, fallback=fallback)
            if rid in seen:
                continue  # the same result indicated twice in one session
            seen.add(rid)
            readings.append(
                Reading(
                    id=rid,
                    kind=Kind.BLOOD_PRESSURE,
                    gateway_id=self.ctx.gateway_id,
                    device=self.identity,
                    record_key=None,
                    measured_at=corrected.measured_at,
                    time_quality=corrected.quality,
                    values=values,
                    device_time=corrected.device_time,
                    clock_offset_s=corrected.clock_offset_s,
                    received_at=item.at,
                    site_id=self.ctx.site_id,
                )
            )
        return readings
