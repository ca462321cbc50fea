"""TaiDoc 8-byte frames: golden frames worked out by hand, payloads, stream decoder, properties."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import DecodeError, UsageError
from drivers.serial import taidoc
from drivers.serial.decode import taidoc as taidoc_stream
from drivers.serial.decode_stream import decode_stream as decode_by_name

# 51+24+A3 = 0x118 -> 18
MODEL_REQUEST = bytes.fromhex("51 24 00 00 00 00 a3 18")
# 2026-11-27 14:05: (26<<9)|(11<<5)|27 = 0x357B -> 7B 35; minute 05, hour 0E; sum 0x1DC -> DC
CLOCK_REPLY = bytes.fromhex("51 23 7b 35 05 0e a5 dc")
# 126 mg/dL (7E 00), unknown 00, before meal 40; sum 0x1DA -> DA
GLUCOSE_REPLY = bytes.fromhex("51 26 7e 00 00 40 a5 da")
# systolic 130 (82), extra 00, diastolic 85 (55), pulse 72 (48); sum 0x23B -> 3B
BP_REPLY = bytes.fromhex("51 26 82 00 55 48 a5 3b")
# record 2 requested: 02 00 00 00; 51+25+02+A3 = 0x11B -> 1B
RECORD_TIME_REQUEST = bytes.fromhex("51 25 02 00 00 00 a3 1b")
# model 4277 BCD LE: 77 42; 51+24+77+42+A5 = 0x1D3 -> D3
MODEL_REPLY = bytes.fromhex("51 24 77 42 00 00 a5 d3")


def test_golden_request() -> None:
    assert taidoc.request(taidoc.Command.MODEL) == MODEL_REQUEST
    assert taidoc.record_request(taidoc.Command.RECORD_TIME, 2) == RECORD_TIME_REQUEST
    assert taidoc.decode_frame(MODEL_REQUEST) == taidoc.Frame(0x24, b"\0\0\0\0", taidoc.TO_METER)


def test_golden_clock_reply() -> None:
    frame = taidoc.decode_frame(CLOCK_REPLY)
    assert frame == taidoc.Frame(0x23, bytes.fromhex("7b35050e"), taidoc.FROM_METER)
    assert taidoc.decode_datetime(frame.payload) == datetime(2026, 11, 27, 14, 5)
    assert taidoc.encode_datetime(datetime(2026, 11, 27, 14, 5)) == frame.payload


def test_golden_glucose_reply() -> None:
    frame = taidoc.decode_frame(GLUCOSE_REPLY)
    assert taidoc.decode_glucose(frame.payload) == taidoc.GlucoseValue(
        mgdl=126, meal="preprandial", unknown=0, meal_byte=0x40
    )


def test_golden_bp_reply() -> None:
    frame = taidoc.decode_frame(BP_REPLY)
    assert taidoc.decode_bp(frame.payload) == taidoc.BpValue(
        systolic=130, diastolic=85, pulse=72, extra=0
    )


def test_golden_model_reply() -> None:
    assert taidoc.decode_model(taidoc.decode_frame(MODEL_REPLY).payload) == "4277"
    assert taidoc.encode_model("4277") == bytes.fromhex("77 42 00 00")


def test_serial_parts_are_reversed() -> None:
    assert taidoc.decode_serial_part(b"4321") == "1234"
    assert taidoc.encode_serial_part("1234") == b"4321"


def test_hi_lo_limits() -> None:
    assert taidoc.GlucoseValue(601, None, 0, 0).hi
    assert taidoc.GlucoseValue(19, None, 0, 0).lo
    assert not taidoc.GlucoseValue(600, None, 0, 0).hi


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (bytes.fromhex("51 24 00 00 00 00 a3 19"), "checksum 0x19, computed 0x18"),
        (bytes.fromhex("50 24 00 00 00 00 a3 17"), "TaiDoc frame does not start with 0x51"),
        (bytes.fromhex("51 24 00 00 00 00 a4 19"), "direction byte 0xA4 is neither 0xA3 nor 0xA5"),
        (bytes.fromhex("51 24 00"), "TaiDoc frame must be 8 bytes, got 3"),
    ],
)
def test_bad_frames(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        taidoc.decode_frame(data)
    assert info.value.reason == reason


def test_bad_payloads() -> None:
    with pytest.raises(DecodeError, match="meal flag 0x20"):
        taidoc.decode_glucose(bytes.fromhex("7e 00 00 20"))
    with pytest.raises(DecodeError, match="invalid date"):
        taidoc.decode_datetime(bytes.fromhex("00 00 05 0e"))  # month 0
    with pytest.raises(DecodeError, match="not BCD"):
        taidoc.decode_model(bytes.fromhex("7a 42 00 00"))
    with pytest.raises(DecodeError, match="zero systolic"):
        taidoc.decode_bp(bytes.fromhex("00 00 55 48"))


def test_usage_errors() -> None:
    with pytest.raises(UsageError):
        taidoc.encode_datetime(datetime(1999, 1, 1))
    with pytest.raises(UsageError):
        taidoc.record_request(taidoc.Command.RECORD_TIME, 70000)
    with pytest.raises(UsageError):
        taidoc.encode_frame(taidoc.Frame(0x23, b"\0", taidoc.FROM_METER))


def test_find_frame_resyncs_over_garbage() -> None:
    buffer = b"\x51\x00\xfe" + CLOCK_REPLY + b"\x51\x26"
    frame, used = taidoc.find_frame(buffer)
    assert frame == taidoc.decode_frame(CLOCK_REPLY)
    assert used == 3 + 8
    assert taidoc.find_frame(b"\x00\x51\x26") == (None, 1)
    assert taidoc.find_frame(b"\x00\x01") == (None, 2)


def test_stream_decoder_golden() -> None:
    data = MODEL_REQUEST + MODEL_REPLY + RECORD_TIME_REQUEST + CLOCK_REPLY + GLUCOSE_REPLY
    assert taidoc_stream.decode_stream(data) == [
        {"direction": "to_meter", "command": "model", "payload": "00000000"},
        {"direction": "from_meter", "command": "model", "payload": "77420000", "model": "4277"},
        {"direction": "to_meter", "command": "record_time", "payload": "02000000", "index": 2},
        {
            "direction": "from_meter",
            "command": "clock",
            "payload": "7b35050e",
            "time": "2026-11-27T14:05:00",
        },
        {
            "direction": "from_meter",
            "command": "record_value",
            "payload": "7e000040",
            "glucose_mgdl": 126,
            "meal": "preprandial",
            "hi": False,
            "lo": False,
        },
    ]
    assert decode_by_name("td42xx", data) == taidoc_stream.decode_stream(data)


def test_bp_stream_decoder_golden() -> None:
    assert decode_by_name("taidoc_bp", BP_REPLY) == [
        {
            "direction": "from_meter",
            "command": "record_value",
            "payload": "82005548",
            "systolic": 130,
            "diastolic": 85,
            "pulse": 72,
        }
    ]


def test_stream_decoder_reports_offset() -> None:
    bad = bytearray(GLUCOSE_REPLY)
    bad[7] ^= 0xFF
    with pytest.raises(DecodeError) as info:
        taidoc_stream.decode_stream(MODEL_REQUEST + bytes(bad))
    assert info.value.offset == 8
    with pytest.raises(DecodeError) as info:
        taidoc_stream.decode_stream(MODEL_REQUEST + b"\x51")
    assert (info.value.offset, info.value.reason) == (8, "TaiDoc frame must be 8 bytes, got 1")


@given(st.binary(min_size=0, max_size=12))
def test_decode_frame_any_bytes(data: bytes) -> None:
    try:
        frame = taidoc.decode_frame(data)
    except DecodeError:
        return
    assert taidoc.encode_frame(frame) == data


@given(st.binary(min_size=4, max_size=4))
def test_payload_decoders_any_bytes(payload: bytes) -> None:
    for decode in (
        taidoc.decode_datetime,
        taidoc.decode_glucose,
        taidoc.decode_bp,
        taidoc.decode_model,
        taidoc.decode_serial_part,
    ):
        try:
            decode(payload)
        except DecodeError:
            continue


@given(st.binary(max_size=64))
def test_stream_decoders_any_bytes(data: bytes) -> None:
    for decode in (taidoc_stream.decode_stream, taidoc_stream.decode_stream_bp):
        try:
            assert isinstance(decode(data), list)
        except DecodeError:
            continue


@given(st.datetimes(datetime(2000, 1, 1), datetime(2127, 12, 31)))
def test_datetime_round_trip(when: datetime) -> None:
    minute = when.replace(second=0, microsecond=0)
    assert taidoc.decode_datetime(taidoc.encode_datetime(minute)) == minute


@given(
    st.integers(0, 0xFFFF), st.integers(0, 255), st.sampled_from(sorted(taidoc.MEAL_FLAGS))
)
def test_glucose_round_trip(mgdl: int, unknown: int, meal_byte: int) -> None:
    value = taidoc.GlucoseValue(mgdl, taidoc.MEAL_FLAGS[meal_byte], unknown, meal_byte)
    assert taidoc.decode_glucose(taidoc.encode_glucose(value)) == value


@given(st.integers(1, 255), st.integers(0, 255), st.integers(0, 255), st.integers(1, 255))
def test_bp_round_trip(systolic: int, extra: int, diastolic: int, pulse: int) -> None:
    value = taidoc.BpValue(systolic, diastolic, pulse, extra)
    frame = taidoc.encode_frame(
        taidoc.Frame(taidoc.Command.RECORD_VALUE, taidoc.encode_bp(value), taidoc.FROM_METER)
    )
    assert taidoc.decode_bp(taidoc.decode_frame(frame).payload) == value
