"""Beurer BM58 codec: golden replies worked out from the layout, stream decoder, properties."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import DecodeError, UsageError
from drivers.serial import beurer_bm58 as bm58
from drivers.serial.decode import beurer_bm58 as bm58_stream
from drivers.serial.decode_stream import decode_stream as decode_by_name

# 135/85 mmHg, pulse 72, 2026-11-27 09:30: AC (135-25=6E) (85-25=3C) 48 0B 1B 09 1E 1A
RECORD = bytes.fromhex("ac 6e 3c 48 0b 1b 09 1e 1a")
RECORD_VALUE = bm58.BpRecord(
    systolic=135, diastolic=85, pulse=72, taken_at=datetime(2026, 11, 27, 9, 30)
)


def test_golden_record() -> None:
    assert bm58.decode_record(RECORD) == RECORD_VALUE
    assert bm58.encode_record(RECORD_VALUE) == RECORD


def test_empty_slot() -> None:
    assert bm58.decode_record(b"\xa9") is None
    assert bm58.encode_record(None) == b"\xa9"


def test_requests() -> None:
    assert bm58.wake_request() == b"\xaa"
    assert bm58.device_id_request() == b"\xa4"
    assert bm58.count_request() == b"\xa2"
    assert bm58.record_request(7) == b"\xa3\x07"
    with pytest.raises(UsageError):
        bm58.record_request(0)


def test_short_replies() -> None:
    bm58.decode_wake(b"\x55")
    assert bm58.decode_count(b"\x2a") == 42
    assert bm58.decode_device_id(b"Andon KD-001\x00\x00") == "Andon KD-001"
    with pytest.raises(DecodeError, match="wake reply"):
        bm58.decode_wake(b"\x54")
    with pytest.raises(DecodeError, match="one byte"):
        bm58.decode_count(b"\x01\x02")
    with pytest.raises(DecodeError, match="printable"):
        bm58.decode_device_id(b"BM\x0158")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (RECORD[:8], "record reply must be 9 bytes or A9, got 8"),
        (b"\xad" + RECORD[1:], "record reply does not start with 0xAC"),
        (bytes.fromhex("ac 6e 3c 48 0d 1b 09 1e 1a"), "record time 2026-13-27 9:30 is invalid"),
        (bytes.fromhex("ac 3c 6e 48 0b 1b 09 1e 1a"),
         "implausible record: diastolic >= systolic or zero pulse"),
    ],
)
def test_bad_records(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        bm58.decode_record(data)
    assert info.value.reason == reason


def test_stream_transcript_golden() -> None:
    data = (
        b"\xaa\x55" + b"\xa4" + b"BM58" + b"\xa2\x02" + b"\xa3\x01" + RECORD + b"\xa3\x02\xa9"
    )
    expected: list[dict[str, object]] = [
        {"command": "wake", "ack": True},
        {"command": "device_id", "device_id": "BM58"},
        {"command": "count", "count": 2},
        {
            "command": "record",
            "index": 1,
            "empty": False,
            "systolic": 135,
            "diastolic": 85,
            "pulse": 72,
            "taken_at": "2026-11-27T09:30:00",
        },
        {"command": "record", "index": 2, "empty": True},
    ]
    assert bm58_stream.decode_stream(data) == expected
    assert decode_by_name("bm58", data) == expected
    # The monitor's side alone decodes to the same records.
    assert bm58_stream.decode_stream(b"\x55" + b"BM58" + b"\x02" + RECORD + b"\xa9") == expected


def test_stream_errors_carry_offsets() -> None:
    with pytest.raises(DecodeError) as info:
        bm58_stream.decode_stream(b"\xaa\x55\xa3\x01" + b"\xad" + RECORD[1:])
    assert (info.value.offset, info.value.reason) == (4, "record reply does not start with 0xAC")
    with pytest.raises(DecodeError) as info:
        bm58_stream.decode_stream(b"\xaa\x55\x10")
    assert (info.value.offset, info.value.reason) == (2, "unknown command byte 0x10")
    with pytest.raises(DecodeError) as info:
        bm58_stream.decode_stream(b"\x55" + b"BM" + b"\x01" + RECORD[:5])
    assert info.value.offset == 4


@given(st.binary(max_size=12))
def test_decode_record_any_bytes(data: bytes) -> None:
    try:
        record = bm58.decode_record(data)
    except DecodeError:
        return
    assert bm58.encode_record(record) == data


@given(st.binary(max_size=80))
def test_stream_any_bytes(data: bytes) -> None:
    try:
        assert isinstance(bm58_stream.decode_stream(data), list)
    except DecodeError:
        return


@given(
    st.integers(26, 280),
    st.integers(25, 279),
    st.integers(1, 255),
    st.datetimes(datetime(2000, 1, 1), datetime(2255, 12, 31)),
)
def test_record_round_trip(systolic: int, diastolic: int, pulse: int, when: datetime) -> None:
    if diastolic >= systolic:
        diastolic = systolic - 1
    record = bm58.BpRecord(systolic, diastolic, pulse, when.replace(second=0, microsecond=0))
    assert bm58.decode_record(bm58.encode_record(record)) == record
