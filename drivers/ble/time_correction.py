"""From a meter's local wall-clock timestamp to a UTC `measured_at` and a `TimeQuality`.

BLE Date Time has no zone: meters keep the local time they were set to. The gateway attaches the
site's zone (default Asia/Makassar, WITA, UTC+8: Balikpapan) and, when it could read the meter's
clock in the same session, the measured offset (device clock minus gateway UTC clock), which it
subtracts from every record.

Quality rules:
- offset measured and within `synced_tolerance_s` -> SYNCED (the meter agrees with the gateway);
- offset measured and larger -> DEVICE_CLOCK, corrected by the offset;
- no way to read the clock -> DEVICE_CLOCK with `clock_offset_s=None` (device time taken as is);
- no usable device time (year 0, unknown month/day) or an implausible one (before 2015, older
  than `max_age`, or in the future after correction) -> never trusted silently: a log line, and
  GATEWAY_RECEIVE for a reading just taken (`live=True`: the receive time is then a fair
  stand-in) or UNKNOWN for a stored record (its receive time says nothing about when it was
  measured; `measured_at` then carries the receive time only because it cannot be empty).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.reading import TimeQuality
from drivers.errors import UsageError

_LOGGER = logging.getLogger(__name__)

DEFAULT_SITE_TZ = "Asia/Makassar"
# No meter we support was made before this; a clock showing an earlier date was never set.
EARLIEST_PLAUSIBLE = datetime(2015, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CorrectedTime:
    measured_at: datetime  # aware UTC
    quality: TimeQuality
    device_time: str | None  # the device's own timestamp as it said it (ISO, no zone)
    clock_offset_s: float | None


def site_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(
            f"unknown site timezone {name!r}: use an IANA name such as {DEFAULT_SITE_TZ}"
        ) from exc


class TimeCorrector:
    """Corrects device timestamps for one session (one site zone, one measured offset)."""

    def __init__(
        self,
        site_tz: str = DEFAULT_SITE_TZ,
        *,
        max_age: timedelta = timedelta(days=2 * 365),
        future_tolerance: timedelta = timedelta(minutes=10),
        synced_tolerance_s: float = 120.0,
    ) -> None:
        self.zone = site_zone(site_tz)
        self.max_age = max_age
        self.future_tolerance = future_tolerance
        self.synced_tolerance_s = synced_tolerance_s
        self.clock_offset_s: float | None = None

    def to_utc(self, device_local: datetime) -> datetime:
        if device_local.tzinfo is not None:
            raise UsageError("device timestamps are naive local wall-clock times")
        return device_local.replace(tzinfo=self.zone).astimezone(UTC)

    def measure_offset(self, device_now_local: datetime | None, gateway_now: datetime) -> None:
        """Record the offset from a clock read (CTS 0x2A2B or a vendor clock) in this session.

        A clock reading that is itself unusable (year 0) leaves the offset unmeasured.
        """
        if device_now_local is None:
            _LOGGER.warning("device clock reads as unknown; its timestamps are not corrected")
            self.clock_offset_s = None
            return
        self.clock_offset_s = (self.to_utc(device_now_local) - gateway_now).total_seconds()
        _LOGGER.debug("device clock offset %.1f s", self.clock_offset_s)

    def correct(
        self,
        device_local: datetime | None,
        *,
        received_at: datetime,
        live: bool = False,
        device_time_text: str | None = None,
    ) -> CorrectedTime:
        """Correct one record's timestamp. `received_at` is the gateway's aware UTC time."""
        text = device_time_text
        if text is None and device_local is not None:
            text = device_local.isoformat()
        if device_local is None:
            return self._fallback("device time unknown", text, received_at, live)
        try:
            corrected = self.to_utc(device_local)
            if self.clock_offset_s is not None:
                corrected -= timedelta(seconds=self.clock_offset_s)
        except OverflowError:
            return self._fallback("device time out of range", text, received_at, live)
        if corrected < EARLIEST_PLAUSIBLE or corrected < received_at - self.max_age:
            return self._fallback("device time implausibly old", text, received_at, live)
        if corrected > received_at + self.future_tolerance:
            return self._fallback("device time in the future", text, received_at, live)
        if self.clock_offset_s is not None and abs(self.clock_offset_s) <= self.synced_tolerance_s:
            quality = TimeQuality.SYNCED
        else:
            quality = TimeQuality.DEVICE_CLOCK
        return CorrectedTime(corrected, quality, text, self.clock_offset_s)

    def _fallback(
        self, reason: str, text: str | None, received_at: datetime, live: bool
    ) -> CorrectedTime:
        quality = TimeQuality.GATEWAY_RECEIVE if live else TimeQuality.UNKNOWN
        _LOGGER.warning(
            "%s (%s, offset %s s): using %s", reason, text or "none", self.clock_offset_s,
            quality.value,
        )
        return CorrectedTime(received_at, quality, text, self.clock_offset_s)
