"""The one place that decides a reading's UTC time and how far it can be trusted.

BLE and serial sessions both end here: a driver reads what its device says (a BLE Date Time, a
meter's clock line) and hands this module a `TimeEvidence`; `decide_time` returns a
`TimeDecision` and never touches a clock, a logger or a device, so every rule is testable with
plain values (tests/core/test_time_policy.py).

Rules, in order:
1. No usable device time (year 0, month 13: `device_wall` None) -> fallback.
2. The wall time is read in the site zone; the measured offset (device clock minus gateway
   clock) is subtracted whenever it was measured, so `measured_at == wall-in-UTC - offset`
   always holds for a trusted time (central can recompute it from `device_time` and
   `clock_offset_s`).
3. Plausibility, after correction: before `window.earliest`, older than `window.max_age`
   before receipt, or more than `window.future_tolerance` after receipt -> fallback.
4. Quality: SYNCED when the offset was measured and is within `window.synced_tolerance_s`, or
   when the gateway set the clock this session before the record was stamped; DEVICE_CLOCK
   otherwise (offset applied, or no way to read the clock). A wall time that is ambiguous or
   nonexistent in the site zone (a DST fold or gap) is an hour uncertain, so never SYNCED.
Fallback: `measured_at` is the gateway's receive time. GATEWAY_RECEIVE for a record just
taken (`live`: its receive time is a fair stand-in), UNKNOWN for a stored one (its receive
time says nothing about when it was measured; it is only there because `measured_at` cannot be
empty). The device's own text is always kept in `device_time`, so nothing is lost.

A record stamped before somebody reset the meter clock is mis-corrected by that reset; nothing
on the wire can reveal it, so the offset measured now is applied to the whole memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from math import isfinite
from zoneinfo import ZoneInfo

from core.reading import TimeQuality

# No meter we support was made before this; a clock showing an earlier date was never set
# (meters reset to 2000-01-01 or year 0 when the battery is changed).
EARLIEST_PLAUSIBLE = datetime(2015, 1, 1, tzinfo=UTC)
# Meter clocks show minutes (serial) or seconds (BLE) and drift a few seconds a week: an offset
# this small is truncation and drift, i.e. the clock agrees with the gateway.
SYNCED_TOLERANCE_S = 120.0


class FallbackReason(StrEnum):
    """Why a device time was not used: said once in a log line by the caller."""

    NO_DEVICE_TIME = "device time unknown"
    OUT_OF_RANGE = "device time out of range"
    TOO_OLD = "device time implausibly old"
    IN_FUTURE = "device time in the future"


@dataclass(frozen=True, slots=True)
class PlausibilityWindow:
    """Which corrected device times are believable, relative to the receive time."""

    earliest: datetime = EARLIEST_PLAUSIBLE
    max_age: timedelta = timedelta(days=2 * 365)
    future_tolerance: timedelta = timedelta(minutes=10)
    synced_tolerance_s: float = SYNCED_TOLERANCE_S


@dataclass(frozen=True, slots=True)
class TimeEvidence:
    """Everything known about one record's time."""

    device_wall: datetime | None  # the device's naive wall time, None when unusable
    received_at: datetime  # aware: when the gateway received the record
    zone: ZoneInfo  # the site zone (core.clock.site_zone) the device clock was set to
    clock_offset_s: float | None = None  # device minus gateway, seconds; None when not measured
    # The gateway wrote this device's clock in this session *before* the record was stamped.
    # Records read from memory were stamped earlier, so sessions that set the clock after
    # reading (all of today's) pass False.
    clock_set_by_gateway: bool = False
    live: bool = False  # just measured: the receive time is a fair stand-in
    device_time_text: str | None = None  # the device's own text when `device_wall` is None
    window: PlausibilityWindow = field(default_factory=PlausibilityWindow)

    def __post_init__(self) -> None:
        if self.device_wall is not None and self.device_wall.tzinfo is not None:
            raise ValueError("device_wall must be a naive wall-clock time")
        if self.received_at.tzinfo is None or self.received_at.utcoffset() is None:
            raise ValueError("received_at must be an aware datetime")


@dataclass(frozen=True, slots=True)
class TimeDecision:
    measured_at: datetime  # aware UTC
    quality: TimeQuality
    device_time: str | None  # the device's own timestamp as it said it (ISO, no zone)
    clock_offset_s: float | None  # the offset applied (None when not measured)
    fallback: FallbackReason | None = None  # set when the device time was not used


def wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall time in `zone` as aware UTC.

    In a DST gap or fold the first reading wins (PEP 495 fold=0): an ambiguous time is the
    earlier instant, a nonexistent one is read with the offset before the jump.
    """
    if wall.tzinfo is not None:
        raise ValueError("wall-clock times are naive")
    return wall.replace(tzinfo=zone).astimezone(UTC)


def is_ambiguous_or_missing(wall: datetime, zone: ZoneInfo) -> bool:
    """True when `wall` falls in a DST fold (twice) or gap (never) of `zone`."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    return first.utcoffset() != second.utcoffset()


def decide_time(evidence: TimeEvidence) -> TimeDecision:
    """The UTC `measured_at` and `TimeQuality` of one record; see the module docstring."""
    wall = evidence.device_wall
    offset = evidence.clock_offset_s
    if offset is not None and not isfinite(offset):
        offset = None  # a NaN offset is a measurement that did not happen
    text = evidence.device_time_text
    if text is None and wall is not None:
        text = wall.isoformat()
    received = evidence.received_at.astimezone(UTC)
    window = evidence.window

    def fallback(reason: FallbackReason) -> TimeDecision:
        quality = TimeQuality.GATEWAY_RECEIVE if evidence.live else TimeQuality.UNKNOWN
        return TimeDecision(received, quality, text, offset, reason)

    if wall is None:
        return fallback(FallbackReason.NO_DEVICE_TIME)
    try:
        corrected = wall_to_utc(wall, evidence.zone)
        if offset is not None:
            corrected -= timedelta(seconds=offset)
    except OverflowError:
        return fallback(FallbackReason.OUT_OF_RANGE)
    if corrected < window.earliest or corrected < received - window.max_age:
        return fallback(FallbackReason.TOO_OLD)
    if corrected > received + window.future_tolerance:
        return fallback(FallbackReason.IN_FUTURE)
    agrees = (
        offset is not None and abs(offset) <= window.synced_tolerance_s
    ) or evidence.clock_set_by_gateway
    if agrees and not is_ambiguous_or_missing(wall, evidence.zone):
        quality = TimeQuality.SYNCED
    else:
        quality = TimeQuality.DEVICE_CLOCK
    return TimeDecision(corrected, quality, text, offset)
