"""The clock every package reads, and the site's time zone.

A Pi has no real-time clock: "now" is injected wherever a test must control it, and this is
the one default. Meters and screens show the site's wall clock; UTC is what is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import CoreError

# WITA, UTC+8, no daylight saving: Balikpapan's wall clock. The gateway's `gateway.timezone`
# default, and the zone of a device without one of its own.
DEFAULT_SITE_TZ = "Asia/Makassar"


class UnknownTimeZoneError(CoreError, ValueError):
    """A time zone name the system's tz database does not know."""


def utc_now() -> datetime:
    """Aware UTC now: the default of every injected clock."""
    return datetime.now(UTC)


def site_zone(name: str | None) -> ZoneInfo:
    """The zone named `name` (DEFAULT_SITE_TZ when None), or UnknownTimeZoneError."""
    try:
        return ZoneInfo(name or DEFAULT_SITE_TZ)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZoneError(
            f"unknown time zone {name!r}: use an IANA name such as {DEFAULT_SITE_TZ}"
        ) from exc
