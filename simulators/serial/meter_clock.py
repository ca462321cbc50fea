"""A meter's drifting, zone-less wall clock, for simulators."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.clock import DEFAULT_SITE_TZ, utc_now
from drivers.serial.device_time import local_to_utc, utc_to_local


@dataclass(slots=True)
class DriftingClock:
    """Meter local time = true UTC + `drift_s`, shown in `zone` without a zone."""

    clock: Callable[[], datetime] = utc_now
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_SITE_TZ))
    drift_s: float = 0.0

    def local_now(self) -> datetime:
        moment = self.clock() + timedelta(seconds=self.drift_s)
        return utc_to_local(moment, self.zone).replace(microsecond=0)

    def set_local(self, local: datetime) -> None:
        """What a host's "set clock" does: from now on the meter shows `local`."""
        self.drift_s = (local_to_utc(local, self.zone) - self.clock()).total_seconds()
