from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ble.datetime_codec import (
    ADJUST_EXTERNAL_REFERENCE,
    ADJUST_MANUAL,
    BleDateTime,
    CurrentTime,
    DayDateTime,
    ExactTime256,
    LocalTimeInformation,
    ReferenceTimeInformation,
    decode_current_time,
    decode_date_time,
    decode_day_date_time,
    decode_exact_time_256,
    decode_local_time_information,
    decode_reference_time_information,
    encode_current_time,
    encode_date_time,
    encode_day_date_time,
    encode_exact_time_256,
    encode_local_time_information,
    encode_reference_time_information,
)
from drivers.errors import DecodeError, UsageError

from .strategies import T, attempt, date_times


def test_date_time_golden() -> None:
    value = decode_date_time(bytes.fromhex("e9 07 01 0f 0e 1e 2d"))
    assert value == BleDateTime(2025, 1, 15, 14, 30, 45)
    assert value.to_datetime() == datetime(2025, 1, 15, 14, 30, 45)
    assert value.iso() == "2025-01-15T14:30:45"
    assert value.is_complete


def test_date_time_unknown_parts_are_none() -> None:
    value = decode_date_time(bytes.fromhex("00 00 00 00 0c 00 00"))
    assert value == BleDateTime(None, None, None, 12, 0, 0)
    assert value.to_datetime() is None
    assert value.iso() is None
    assert not value.is_complete
    assert value.raw_text() == "????-??-??T12:00:00"
    assert encode_date_time(value) == bytes.fromhex("00 00 00 00 0c 00 00")


def test_implausible_date_is_a_value_not_an_error() -> None:
    # i-SENS month 13, and an hour of 25: kept as sent for the session to judge.
    value = decode_date_time(bytes.fromhex("e8 07 0d 1f 19 3c 3c"))
    assert value == BleDateTime(2024, 13, 31, 25, 60, 60)
    assert value.to_datetime() is None
    assert value.raw_text() == "2024-13-31T25:60:60"


def test_date_time_at_offset_ignores_trailing() -> None:
    data = bytes.fromhex("ff e9 07 01 0f 0e 1e 2d aa bb")
    assert decode_date_time(data, 1) == BleDateTime(2025, 1, 15, 14, 30, 45)


def test_date_time_short() -> None:
    with pytest.raises(DecodeError) as info:
        decode_date_time(bytes.fromhex("e9 07 01 0f 0e 1e"))
    assert info.value.data == bytes.fromhex("e9 07 01 0f 0e 1e")


def test_from_datetime_and_encode() -> None:
    value = BleDateTime.from_datetime(datetime(2026, 11, 27, 21, 5, 9))
    assert encode_date_time(value) == bytes.fromhex("ea 07 0b 1b 15 05 09")
    with pytest.raises(UsageError):
        encode_date_time(BleDateTime(2026, 1, 1, 256, 0, 0))


def test_day_date_time_and_exact_time() -> None:
    ddt = decode_day_date_time(bytes.fromhex("e9 07 01 0f 0e 1e 2d 03"))
    assert ddt == DayDateTime(BleDateTime(2025, 1, 15, 14, 30, 45), 3)
    assert ddt.day_name == "wednesday"
    assert decode_day_date_time(bytes(8)).day_of_week is None
    assert DayDateTime(BleDateTime(None, None, None), 9).day_name is None
    exact = decode_exact_time_256(bytes.fromhex("e9 07 01 0f 0e 1e 2d 03 80"))
    assert exact == ExactTime256(ddt, 128)
    assert exact.date_time == BleDateTime(2025, 1, 15, 14, 30, 45)
    assert encode_exact_time_256(exact) == bytes.fromhex("e9 07 01 0f 0e 1e 2d 03 80")
    assert encode_day_date_time(ddt) == bytes.fromhex("e9 07 01 0f 0e 1e 2d 03")
    with pytest.raises(DecodeError):
        decode_exact_time_256(bytes(8))


def test_current_time_golden() -> None:
    value = decode_current_time(bytes.fromhex("e9 07 01 0f 0e 1e 2d 03 21 01"))
    assert value == CurrentTime(
        ExactTime256(DayDateTime(BleDateTime(2025, 1, 15, 14, 30, 45), 3), 33), ADJUST_MANUAL
    )
    assert value.adjust_reasons == ("manual_time_update",)
    assert value.day_of_week == 3
    assert value.fractions256 == 33
    assert value.date_time.iso() == "2025-01-15T14:30:45"


def test_current_time_all_adjust_bits() -> None:
    value = decode_current_time(bytes.fromhex("e9 07 01 0f 0e 1e 2d 03 00 ff"))
    assert value.adjust_reason == 0xFF
    assert value.adjust_reasons == (
        "manual_time_update",
        "external_reference_time_update",
        "time_zone_change",
        "dst_change",
    )


def test_current_time_from_datetime() -> None:
    value = CurrentTime.from_datetime(
        datetime(2026, 11, 27, 21, 5, 9, 500_000), ADJUST_EXTERNAL_REFERENCE
    )
    assert encode_current_time(value) == bytes.fromhex("ea 07 0b 1b 15 05 09 05 80 02")


def test_current_time_short() -> None:
    with pytest.raises(DecodeError):
        decode_current_time(bytes.fromhex("e9 07 01 0f 0e 1e 2d 03 21"))


@pytest.mark.parametrize(
    ("wire", "expected", "offset"),
    [
        ("20 00", LocalTimeInformation(32, 0), timedelta(hours=8)),  # WITA
        ("f8 04", LocalTimeInformation(-8, 4), timedelta(hours=-1)),
        ("80 00", LocalTimeInformation(None, 0), None),
        ("00 ff", LocalTimeInformation(0, None), None),
        ("00 03", LocalTimeInformation(0, 3), None),  # not a defined DST code
        ("16 02", LocalTimeInformation(22, 2), timedelta(hours=6)),
    ],
)
def test_local_time_information(
    wire: str, expected: LocalTimeInformation, offset: timedelta | None
) -> None:
    decoded = decode_local_time_information(bytes.fromhex(wire))
    assert decoded == expected
    assert decoded.utc_offset == offset
    assert encode_local_time_information(decoded) == bytes.fromhex(wire)


def test_reference_time_information() -> None:
    value = decode_reference_time_information(bytes.fromhex("01 08 ff 03"))
    assert value == ReferenceTimeInformation(1, 8, 255, 3)
    assert value.time_source_name == "network_time_protocol"
    assert encode_reference_time_information(value) == bytes.fromhex("01 08 ff 03")
    with pytest.raises(DecodeError):
        decode_reference_time_information(b"\x01\x02\x03")


def _check(decode: Callable[[bytes], T], encode: Callable[[T], bytes], size: int,
           data: bytes) -> None:
    value = attempt(decode, data)
    if isinstance(value, DecodeError):
        assert len(data) < size
        assert value.data == data
    else:
        assert encode(value) == data[:size]


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(st.binary(max_size=12))
def test_time_codecs_any_bytes(data: bytes) -> None:
    _check(decode_date_time, encode_date_time, 7, data)
    _check(decode_day_date_time, encode_day_date_time, 8, data)
    _check(decode_exact_time_256, encode_exact_time_256, 9, data)
    _check(decode_current_time, encode_current_time, 10, data)
    _check(decode_local_time_information, encode_local_time_information, 2, data)
    _check(decode_reference_time_information, encode_reference_time_information, 4, data)


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(date_times)
def test_date_time_object_round_trip(value: BleDateTime) -> None:
    assert decode_date_time(encode_date_time(value)) == value
