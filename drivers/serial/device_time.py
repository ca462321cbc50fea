"""Meter local time -> UTC, corrected by the meter's measured clock offset.

Serial meters keep a naive local wall clock that nobody sets for months. A session reads the
meter clock once, right after connecting, and compares it with the gateway's UTC clock: the
difference (`clock_offset_s`, meter minus gateway, as `Reading.clock_offset_s` defines it) is then
removed from every record time. Records are assumed to have been stamped by the same drifting
clock; a record taken before somebody reset the meter clock is mis-corrected by that reset, which
nothing on the wire can reveal.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drivers.errors import UsageError

DEFAULT_SITE_TZ = "Asia/Makassar"  # WITA: Balikpapan


def site_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_SITE_TZ)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"unknown site time zone {name!r}; use an IANA name such as "
                         f"{DEFAULT_SITE_TZ!r}") from exc


def local_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """Interpret a meter's naive wall-clock time in the site zone."""
    if local.tzinfo is not None:
        raise UsageError("meter times are naive local times")
    return local.replace(tzinfo=zone).astimezone(UTC)


def utc_to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall-clock time to write into a meter at `moment`."""
    if moment.tzinfo is None:
        raise UsageError("gateway times are aware UTC datetimes")
    return moment.astimezone(zone).replace(tzinfo=None)


def clock_offset_s(meter_local: datetime, gateway_now: datetime, zone: ZoneInfo) -> float:
    """Meter clock minus gateway clock, in seconds."""
    return (local_to_utc(meter_local, zone) - gateway_now).total_seconds()


def corrected_utc(record_local: datetime, offset_s: float | None, zone: ZoneInfo) -> datetime:
    """A record's time in UTC with the meter's clock error removed (if it was measured)."""
    stamped = local_to_utc(record_local, zone)
    if offset_s is None:
        return stamped
    return stamped - timedelta(seconds=offset_s)
