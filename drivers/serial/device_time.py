"""A serial meter's clock: reading it against the gateway's, and the wall time to write into it.

Serial meters keep a naive local wall clock that nobody sets for months. A session reads the
meter clock once, right after connecting, and compares it with the gateway's UTC clock: the
difference (`clock_offset_s`, meter minus gateway, as `Reading.clock_offset_s` defines it) goes
to `core.time_policy`, which decides every record's time (see `drivers.serial.record_time`).
The site zone is `core.clock.site_zone`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core.time_policy import wall_to_utc
from drivers.errors import UsageError


def local_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """Interpret a meter's naive wall-clock time in the site zone."""
    if local.tzinfo is not None:
        raise UsageError("meter times are naive local times")
    return wall_to_utc(local, zone)


def utc_to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall-clock time to write into a meter at `moment`."""
    if moment.tzinfo is None:
        raise UsageError("gateway times are aware UTC datetimes")
    return moment.astimezone(zone).replace(tzinfo=None)


def clock_offset_s(meter_local: datetime, gateway_now: datetime, zone: ZoneInfo) -> float:
    """Meter clock minus gateway clock, in seconds."""
    return (local_to_utc(meter_local, zone) - gateway_now.astimezone(UTC)).total_seconds()
