"""How far a serial meter's record time can be trusted, and its UTC value.

Shared by the Contour, TaiDoc and Beurer sessions. A meter clock read right after connecting
gives the offset (meter minus gateway); the clocks of these meters only show minutes, so an
offset within `SYNC_TOLERANCE_S` is truncation and drift we cannot measure: the record time
is then taken as it is and counted as checked (SYNCED). A larger offset is removed from every
record (DEVICE_CLOCK). A meter whose clock cannot be read at all (Beurer BM58) gives
DEVICE_CLOCK with no offset. A corrected time in the gateway's future is impossible and marked
UNKNOWN (the time is kept as the meter said it, so nothing is lost).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.reading import TimeQuality
from drivers.serial.device_time import corrected_utc, local_to_utc

SYNC_TOLERANCE_S = 120.0


def record_time(
    local: datetime, offset_s: float | None, zone: ZoneInfo, now: datetime
) -> tuple[datetime, TimeQuality]:
    """(measured_at in UTC, time quality) for a record stamped `local` by the meter."""
    if offset_s is None:
        moment, quality = local_to_utc(local, zone), TimeQuality.DEVICE_CLOCK
    elif abs(offset_s) <= SYNC_TOLERANCE_S:
        moment, quality = local_to_utc(local, zone), TimeQuality.SYNCED
    else:
        moment, quality = corrected_utc(local, offset_s, zone), TimeQuality.DEVICE_CLOCK
    if moment > now + timedelta(seconds=SYNC_TOLERANCE_S):
        return local_to_utc(local, zone), TimeQuality.UNKNOWN
    return moment, quality
