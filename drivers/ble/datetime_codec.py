"""GATT time types: Date Time 0x2A08, Day Date Time 0x2A0A, Exact Time 256 0x2A0C, Current Time
0x2A2B, Local Time Information 0x2A0F and Reference Time Information 0x2A14.

A device's clock is the meter's local wall-clock time with no zone (PROTOCOLS.md §1.3). Year,
month or day 0 mean "not known" and become None. Anything else is kept exactly as sent, even
when it is no real date (month 13 from an i-SENS meter, hour 25): whether to trust, repair or
drop it is the session's judgement (`BleDateTime.to_datetime()` returns None for those), not a
decode failure. Only a frame that is too short raises DecodeError.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from drivers.errors import DecodeError, UsageError

DATE_TIME_LEN = 7
DAY_DATE_TIME_LEN = 8
EXACT_TIME_256_LEN = 9
CURRENT_TIME_LEN = 10
LOCAL_TIME_INFORMATION_LEN = 2
REFERENCE_TIME_INFORMATION_LEN = 4

DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

ADJUST_MANUAL = 0x01
ADJUST_EXTERNAL_REFERENCE = 0x02
ADJUST_TIME_ZONE = 0x04
ADJUST_DST = 0x08
_ADJUST_NAMES = {
    ADJUST_MANUAL: "manual_time_update",
    ADJUST_EXTERNAL_REFERENCE: "external_reference_time_update",
    ADJUST_TIME_ZONE: "time_zone_change",
    ADJUST_DST: "dst_change",
}

TIME_ZONE_UNKNOWN = -128
DST_UNKNOWN = 255
_DST_HOURS = {0: 0.0, 2: 0.5, 4: 1.0, 8: 2.0}

TIME_SOURCES = {
    0: "unknown",
    1: "network_time_protocol",
    2: "gps",
    3: "radio_time_signal",
    4: "manual",
    5: "atomic_clock",
    6: "cellular_network",
}


def _need(data: bytes, length: int, what: str, offset: int = 0) -> bytes:
    if len(data) - offset < length:
        raise DecodeError(f"{what} needs {length} bytes, got {max(len(data) - offset, 0)}", data,
                          offset)
    return bytes(data[offset : offset + length])


@dataclass(frozen=True, slots=True)
class BleDateTime:
    """GATT Date Time: a local wall-clock time with no zone. None = "not known" (sent as 0)."""

    year: int | None
    month: int | None
    day: int | None
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    @classmethod
    def from_datetime(cls, value: datetime) -> BleDateTime:
        """The wall-clock fields of `value` (its zone, if any, is not converted)."""
        return cls(value.year, value.month, value.day, value.hour, value.minute, value.second)

    @property
    def is_complete(self) -> bool:
        return None not in (self.year, self.month, self.day)

    def to_datetime(self) -> datetime | None:
        """A naive local datetime, or None when a field is unknown or out of calendar range."""
        if self.year is None or self.month is None or self.day is None:
            return None
        try:
            # Naive on purpose: the meter's clock has no zone; the session attaches one.
            return datetime(  # noqa: DTZ001
                self.year, self.month, self.day, self.hours, self.minutes, self.seconds
            )
        except ValueError:
            return None

    def iso(self) -> str | None:
        """ISO text of a valid time ("2025-01-15T14:30:45"), else None."""
        value = self.to_datetime()
        return value.isoformat() if value is not None else None

    def raw_text(self) -> str:
        """The fields as sent, even when they are no real date; "?" for unknown parts."""

        def part(value: int | None, width: int) -> str:
            return "?" * width if value is None else f"{value:0{width}d}"

        return (
            f"{part(self.year, 4)}-{part(self.month, 2)}-{part(self.day, 2)}"
            f"T{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}"
        )


def decode_date_time(data: bytes, offset: int = 0) -> BleDateTime:
    chunk = _need(data, DATE_TIME_LEN, "Date Time", offset)
    year = int.from_bytes(chunk[0:2], "little")
    return BleDateTime(
        year=year or None,
        month=chunk[2] or None,
        day=chunk[3] or None,
        hours=chunk[4],
        minutes=chunk[5],
        seconds=chunk[6],
    )


def encode_date_time(value: BleDateTime) -> bytes:
    fields = (value.month or 0, value.day or 0, value.hours, value.minutes, value.seconds)
    year = value.year or 0
    if not 0 <= year <= 0xFFFF or any(not 0 <= f <= 0xFF for f in fields):
        raise UsageError(f"Date Time field out of byte range: {value!r}")
    return year.to_bytes(2, "little") + bytes(fields)


@dataclass(frozen=True, slots=True)
class DayDateTime:
    date_time: BleDateTime
    day_of_week: int | None  # 1 = Monday .. 7 = Sunday; None = unknown (0); others kept raw

    @property
    def day_name(self) -> str | None:
        if self.day_of_week is None or not 1 <= self.day_of_week <= 7:
            return None
        return DAY_NAMES[self.day_of_week - 1]


def day_of_week_of(value: datetime) -> int:
    return value.isoweekday()


def decode_day_date_time(data: bytes, offset: int = 0) -> DayDateTime:
    chunk = _need(data, DAY_DATE_TIME_LEN, "Day Date Time", offset)
    return DayDateTime(decode_date_time(chunk), chunk[7] or None)


def encode_day_date_time(value: DayDateTime) -> bytes:
    day = value.day_of_week or 0
    if not 0 <= day <= 0xFF:
        raise UsageError(f"day of week out of byte range: {day}")
    return encode_date_time(value.date_time) + bytes([day])


@dataclass(frozen=True, slots=True)
class ExactTime256:
    day_date_time: DayDateTime
    fractions256: int = 0  # 1/256 s

    @property
    def date_time(self) -> BleDateTime:
        return self.day_date_time.date_time


def decode_exact_time_256(data: bytes, offset: int = 0) -> ExactTime256:
    chunk = _need(data, EXACT_TIME_256_LEN, "Exact Time 256", offset)
    return ExactTime256(decode_day_date_time(chunk), chunk[8])


def encode_exact_time_256(value: ExactTime256) -> bytes:
    if not 0 <= value.fractions256 <= 0xFF:
        raise UsageError(f"fractions256 out of byte range: {value.fractions256}")
    return encode_day_date_time(value.day_date_time) + bytes([value.fractions256])


@dataclass(frozen=True, slots=True)
class CurrentTime:
    """CTS Current Time 0x2A2B: Exact Time 256 + Adjust Reason bits."""

    exact_time: ExactTime256
    adjust_reason: int = 0

    @property
    def date_time(self) -> BleDateTime:
        return self.exact_time.day_date_time.date_time

    @property
    def day_of_week(self) -> int | None:
        return self.exact_time.day_date_time.day_of_week

    @property
    def fractions256(self) -> int:
        return self.exact_time.fractions256

    @property
    def adjust_reasons(self) -> tuple[str, ...]:
        """Named adjust-reason bits in bit order; reserved bits 4-7 are not named."""
        return tuple(name for bit, name in _ADJUST_NAMES.items() if self.adjust_reason & bit)

    @classmethod
    def from_datetime(cls, value: datetime, adjust_reason: int = ADJUST_MANUAL) -> CurrentTime:
        """What a gateway writes: wall-clock fields, weekday and sub-second part of `value`."""
        fractions = value.microsecond * 256 // 1_000_000
        return cls(
            ExactTime256(
                DayDateTime(BleDateTime.from_datetime(value), day_of_week_of(value)), fractions
            ),
            adjust_reason,
        )


def decode_current_time(data: bytes, offset: int = 0) -> CurrentTime:
    chunk = _need(data, CURRENT_TIME_LEN, "Current Time", offset)
    return CurrentTime(decode_exact_time_256(chunk), chunk[9])


def encode_current_time(value: CurrentTime) -> bytes:
    if not 0 <= value.adjust_reason <= 0xFF:
        raise UsageError(f"adjust reason out of byte range: {value.adjust_reason}")
    return encode_exact_time_256(value.exact_time) + bytes([value.adjust_reason])


@dataclass(frozen=True, slots=True)
class LocalTimeInformation:
    """0x2A0F. `time_zone` in 15-minute steps (None = unknown, -128); `dst_offset` raw code."""

    time_zone: int | None
    dst_offset: int | None  # 0 standard, 2 +0.5 h, 4 +1 h, 8 +2 h; None = unknown (255)

    @property
    def utc_offset(self) -> timedelta | None:
        """Standard offset plus DST, or None when either part is unknown or not a known code."""
        if self.time_zone is None or self.dst_offset is None:
            return None
        dst_hours = _DST_HOURS.get(self.dst_offset)
        if dst_hours is None:
            return None
        return timedelta(minutes=15 * self.time_zone) + timedelta(hours=dst_hours)


def decode_local_time_information(data: bytes, offset: int = 0) -> LocalTimeInformation:
    chunk = _need(data, LOCAL_TIME_INFORMATION_LEN, "Local Time Information", offset)
    zone = int.from_bytes(chunk[0:1], "little", signed=True)
    return LocalTimeInformation(
        None if zone == TIME_ZONE_UNKNOWN else zone,
        None if chunk[1] == DST_UNKNOWN else chunk[1],
    )


def encode_local_time_information(value: LocalTimeInformation) -> bytes:
    zone = TIME_ZONE_UNKNOWN if value.time_zone is None else value.time_zone
    dst = DST_UNKNOWN if value.dst_offset is None else value.dst_offset
    if not -128 <= zone <= 127 or not 0 <= dst <= 0xFF:
        raise UsageError(f"Local Time Information out of range: {value!r}")
    return zone.to_bytes(1, "little", signed=True) + bytes([dst])


@dataclass(frozen=True, slots=True)
class ReferenceTimeInformation:
    """0x2A14: where the device's clock came from and how stale it is."""

    time_source: int
    accuracy: int  # 1/8 s steps; 254 = out of range, 255 = unknown
    days_since_update: int  # 255 = 255 days or more
    hours_since_update: int

    @property
    def time_source_name(self) -> str | None:
        return TIME_SOURCES.get(self.time_source)


def decode_reference_time_information(data: bytes, offset: int = 0) -> ReferenceTimeInformation:
    chunk = _need(data, REFERENCE_TIME_INFORMATION_LEN, "Reference Time Information", offset)
    return ReferenceTimeInformation(chunk[0], chunk[1], chunk[2], chunk[3])


def encode_reference_time_information(value: ReferenceTimeInformation) -> bytes:
    fields = (value.time_source, value.accuracy, value.days_since_update, value.hours_since_update)
    if any(not 0 <= f <= 0xFF for f in fields):
        raise UsageError(f"Reference Time Information out of byte range: {value!r}")
    return bytes(fields)
