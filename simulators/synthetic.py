"""A synthetic device: generates plausible readings at a steady rate, for demos and load.

It behaves like a meter with a memory: record `n` is always the same reading (values derived
from the device name and n), its record key is n, and it resumes after the last committed
record by reading its cursor, so a killed gateway re-generates nothing twice and skips nothing.
Options (`[[devices]] options`): kind ("blood_pressure" | "glucose"), rate_per_s (default 1),
count (stop after this many records; default unlimited), batch (records per commit, default 1).

With `options.scenario = "FILE"` the composition root makes the device a simulated BLE meter
described by that file instead, read through the real BLE runner (simulators/ble/scenario.py;
format in simulators/README.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from core.devices import DeviceConfig, DeviceContext, DeviceRunner
from core.reading import (
    BloodPressure,
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    TimeQuality,
    Transport,
    reading_id,
)
from core.sink import Cursor

_LOGGER = logging.getLogger(__name__)
CURSOR = "records"


def _unit(name: str, n: int, salt: str) -> float:
    digest = hashlib.sha256(f"{name}|{n}|{salt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def synthetic_values(name: str, kind: Kind, n: int) -> BloodPressure | Glucose:
    if kind is Kind.BLOOD_PRESSURE:
        sys = round(105 + 80 * _unit(name, n, "sys"))
        dia = round(65 + 0.45 * (sys - 105) + 20 * _unit(name, n, "dia"))
        return BloodPressure(
            systolic_mmhg=float(sys),
            diastolic_mmhg=float(dia),
            map_mmhg=round((sys + 2 * dia) / 3, 1),
            pulse_bpm=float(round(58 + 40 * _unit(name, n, "pulse"))),
        )
    return Glucose(
        glucose_mgdl=float(round(75 + 180 * _unit(name, n, "glu"))),
        sample_type="capillary_whole_blood",
        sample_location="finger",
    )


@dataclass(slots=True)
class SyntheticRunner:
    config: DeviceConfig

    async def run_once(self, ctx: DeviceContext) -> None:
        opts = self.config.options
        kind = Kind(self.config.kind or opts.get("kind", "blood_pressure"))
        rate = float(opts.get("rate_per_s", 1.0))
        count = opts.get("count")
        batch = int(opts.get("batch", 1))
        device = DeviceIdentity(
            transport=Transport.SIMULATED,
            address=self.config.name,
            manufacturer="Gempita",
            model=f"synthetic-{kind.value}",
            serial=f"SIM-{self.config.name}",
            firmware="1.0",
        )
        ctx.status.kind = kind.value
        done = int(await ctx.sink.get_cursor(device.id, CURSOR) or 0)
        interval = batch / rate if rate > 0 else 0.0
        while count is None or done < int(count):
            now = ctx.clock()
            upto = done + batch if count is None else min(done + batch, int(count))
            readings = [
                Reading(
                    id=reading_id(device, str(n)),
                    kind=kind,
                    gateway_id=ctx.gateway_id,
                    device=device,
                    record_key=str(n),
                    # A meter's memory: record n was measured a little before it was read.
                    measured_at=now - timedelta(seconds=1),
                    time_quality=TimeQuality.SYNCED,
                    values=synthetic_values(self.config.name, kind, n),
                    device_time=(now - timedelta(seconds=1)).replace(tzinfo=None).isoformat(),
                    clock_offset_s=0.0,
                    received_at=now,
                    site_id=ctx.site_id,
                )
                for n in range(done + 1, upto + 1)
            ]
            result = await ctx.sink.commit(readings, cursor=Cursor(device.id, str(upto), CURSOR))
            done = upto
            ctx.status.last_seen = now
            ctx.status.last_reading_at = now
            ctx.status.readings_total += result.stored
            if interval:
                await asyncio.sleep(interval)
        _LOGGER.info("synthetic device %s: all %s records delivered", self.config.name, count)
        # A meter with nothing new: stay idle until the supervisor's next session.
        await asyncio.sleep(3600)


def make_runner(config: DeviceConfig) -> DeviceRunner:
    """Runner factory for synthetic devices (`transport = "simulated"` without a scenario)."""
    return SyntheticRunner(config)
