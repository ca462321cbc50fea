from __future__ import annotations

import contextlib
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import DecodeError, UsageError
from drivers.serial import onetouch_easy as easy
from drivers.serial.decode import onetouch_easy as easy_stream

H = bytes.fromhex

# Golden frames: CRCs worked out with CRC-16/CCITT-FALSE over STX..ETX (two from the notes).
DISC = H("02 06 08 03 c2 62")
ACK_E = H("02 06 06 03 cd 41")
DISC_ACK = H("02 06 0c 03 06 ae")
VERSION_REQUEST = H("02 09 00 05 0d 02 03 da 71")
SERIAL_REQUEST = H("02 12 03 05 0b 02 00 00 00 00 84 6a e8 73 00 03 38 67")
READ_RECORD_7 = H("02 0a 01 05 1f 07 00 03 9b 51")
SET_CLOCK = H("02 0d 02 05 20 01 98 4d 09 6b 03 97 53")
RECORD_ANSWER = H("02 10 01 05 06 98 4d 09 6b 69 00 00 00 03 6a e3")
COUNT_ANSWER = H("02 09 00 0f 2a 00 03 45 7c")

T_0930 = datetime(2026, 11, 27, 9, 30)  # 1795771800 s = 98 4d 09 6b (LE)


@pytest.mark.parametrize(
    ("raw", "frame"),
    [
        (DISC, easy.Frame(easy.LinkControl(disconnect=True))),
        (ACK_E, easy.Frame(easy.LinkControl(ack=True, expect=True))),
        (DISC_ACK, easy.Frame(easy.LinkControl(ack=True, disconnect=True))),
        (VERSION_REQUEST, easy.Frame(easy.LinkControl(), H("05 0d 02"))),
        (
            SERIAL_REQUEST,
            easy.Frame(easy.LinkControl(sequence=True, expect=True),
                       H("05 0b 02 00 00 00 00 84 6a e8 73 00")),
        ),
        (READ_RECORD_7, easy.Frame(easy.LinkControl(sequence=True), H("05 1f 07 00"))),
        (SET_CLOCK, easy.Frame(easy.LinkControl(expect=True), H("05 20 01 98 4d 09 6b"))),
        (
            RECORD_ANSWER,
            easy.Frame(easy.LinkControl(sequence=True), H("05 06 98 4d 09 6b 69 00 00 00")),
        ),
        (COUNT_ANSWER, easy.Frame(easy.LinkControl(), H("0f 2a 00"))),
    ],
)
def test_frames_decode_and_encode(raw: bytes, frame: easy.Frame) -> None:
    assert easy.decode_frame(raw) == frame
    assert easy.encode_frame(frame) == raw


@pytest.mark.parametrize(
    ("req", "message"),
    [
        (easy.ReadVersion(), H("05 0d 02")),
        (easy.ReadSerial(), H("05 0b 02 00 00 00 00 84 6a e8 73 00")),
        (easy.ReadClock(), H("05 20 02 00 00 00 00")),
        (easy.SetClock(T_0930), H("05 20 01 98 4d 09 6b")),
        (easy.ReadUnit(), H("05 09 02 09 00 00 00 00")),
        (easy.ReadRecord(7), H("05 1f 07 00")),
        (easy.ReadRecord(easy.COUNT_RECORD), H("05 1f f5 01")),
        (easy.Erase(), H("05 1a")),
    ],
)
def test_requests(req: easy.Request, message: bytes) -> None:
    assert easy.encode_request(req) == message
    assert easy.decode_request(message) == req


def test_glucometerutils_serial_request_with_zeros_is_understood() -> None:
    assert easy.decode_request(H("05 0b 02 00 00 00 00 00 00 00 00 00")) == easy.ReadSerial()


def test_answers() -> None:
    assert easy.decode_record(H("05 06 98 4d 09 6b 69 00 00 00")) == easy.Record(T_0930, 105)
    assert easy.decode_clock(H("05 06 98 4d 09 6b")) == T_0930
    assert easy.decode_unit(H("05 06 00 00 00 00")) == "mg/dL"
    assert easy.decode_unit(H("05 06 01 00 00 00")) == "mmol/L"
    assert easy.decode_version(H("05 06 09") + b"P02.00.00") == "P02.00.00"
    assert easy.decode_serial(H("05 06") + b"JDG1234EZ\x00") == "JDG1234EZ"
    assert easy.decode_count(H("0f 2a 00")) == 42
    assert easy.decode_count(H("05 0f 2a 00")) == 42  # the other public reading of the layout
    easy.decode_erased(H("05 06"))  # no error: the erase succeeded


def test_answer_encoders_match_the_layouts() -> None:
    assert easy.encode_record(easy.Record(T_0930, 105)) == H("05 06 98 4d 09 6b 69 00 00 00")
    assert easy.encode_clock(T_0930) == H("05 06 98 4d 09 6b")
    assert easy.encode_unit("mmol/L") == H("05 06 01 00 00 00")
    assert easy.encode_version("P02.00.00") == H("05 06 09") + b"P02.00.00"
    assert easy.encode_count(42) == H("0f 2a 00")
    assert easy.encode_count(42, with_prefix=True) == H("05 0f 2a 00")
    assert easy.encode_refusal() == H("05 09")


def test_hi_lo() -> None:
    assert (easy.Record(T_0930, 19).lo, easy.Record(T_0930, 19).hi) == (True, False)
    assert (easy.Record(T_0930, 601).lo, easy.Record(T_0930, 601).hi) == (False, True)
    assert (easy.Record(T_0930, 600).lo, easy.Record(T_0930, 600).hi) == (False, False)


@pytest.mark.parametrize(
    ("decoder", "message", "reason"),
    [
        (easy.decode_version, H("05 09"), "refused"),
        (easy.decode_record, H("05 06 00"), "8 bytes"),
        (easy.decode_clock, H("06 06 00 00 00 00"), "prefix"),
        (easy.decode_unit, H("05 06 07 00 00 00"), "unit"),
        (easy.decode_serial, H("05 06 00 00"), "empty serial"),
        (easy.decode_serial, H("05 06 ff"), "ASCII"),
        (easy.decode_count, H("05 06 2a 00"), "count"),
        (easy.decode_request, H("05 77"), "unknown request"),
        (easy.decode_erased, H("05 06 01"), "carries data"),
    ],
)
def test_answer_errors(decoder: object, message: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decoder(message)  # type: ignore[operator]


def test_is_refusal() -> None:
    assert easy.is_refusal(H("05 09"))
    assert not easy.is_refusal(H("05 06"))
    assert not easy.is_refusal(H("05 0f 2a 00"))


@pytest.mark.parametrize(
    ("raw", "reason", "offset"),
    [
        (DISC[:-1] + b"\x63", "CRC", 4),
        (H("02 05 08 03 00 00"), "length", 1),
        (H("02 06 08 04 c2 62"), "ETX", 3),
        (H("02 06 48 03 00 00"), "link-control", 2),
        (DISC + b"\x00", "after the frame", 6),
        (DISC[:4], "incomplete", 4),
    ],
)
def test_frame_errors(raw: bytes, reason: str, offset: int) -> None:
    with pytest.raises(DecodeError, match=reason) as caught:
        easy.decode_frame(raw)
    assert caught.value.offset == offset


def test_find_frame_skips_noise_and_bad_frames() -> None:
    bad = DISC[:-1] + b"\x63"
    scan = easy.find_frame(b"\x00\xfe" + bad + ACK_E + b"\x02")
    assert scan == easy.Scan(
        frame=easy.Frame(easy.LinkControl(ack=True, expect=True)),
        used=2 + len(bad) + len(ACK_E),
        noise=b"\x00\xfe" + bad[1:],
        error=scan.error,
    )
    assert scan.error is not None and "CRC" in scan.error.reason


def test_find_frame_waits_for_an_incomplete_frame() -> None:
    assert easy.find_frame(b"\x15" + RECORD_ANSWER[:7]) == easy.Scan(None, 1, b"\x15", None)
    assert easy.find_frame(b"") == easy.Scan(None, 0, b"", None)


def test_usage_errors() -> None:
    with pytest.raises(UsageError):
        easy.encode_frame(easy.Frame(easy.LinkControl(), bytes(250)))
    with pytest.raises(UsageError):
        easy.encode_request(easy.ReadRecord(70000))
    with pytest.raises(UsageError):
        easy.encode_request(easy.SetClock(datetime(1960, 1, 1)))
    with pytest.raises(UsageError):
        easy.encode_unit("g/L")


def test_decode_stream_session_capture() -> None:
    stream = DISC_ACK + ACK_E + RECORD_ANSWER + COUNT_ANSWER
    a = len(DISC_ACK)
    b = a + len(ACK_E)
    c = b + len(RECORD_ANSWER)
    assert easy_stream.decode_stream(stream) == [
        {"offset": 0, "sequence": False, "expect": False, "ack": True, "disconnect": True,
         "more": False, "type": "disconnect"},
        {"offset": a, "sequence": False, "expect": True, "ack": True, "disconnect": False,
         "more": False, "type": "ack"},
        {"offset": b, "sequence": True, "expect": False, "ack": False, "disconnect": False,
         "more": False, "type": "record", "time": "2026-11-27T09:30:00", "glucose_mgdl": 105,
         "hi": False, "lo": False},
        {"offset": c, "sequence": False, "expect": False, "ack": False, "disconnect": False,
         "more": False, "type": "count", "count": 42},
    ]


def test_decode_stream_describes_other_answers() -> None:
    frames = [
        easy.Frame(easy.LinkControl(), easy.encode_version("P02.00.00")),
        easy.Frame(easy.LinkControl(), easy.encode_serial("JDG1234EZ")),
        easy.Frame(easy.LinkControl(), easy.encode_clock(T_0930)),
        easy.Frame(easy.LinkControl(), easy.encode_unit("mmol/L")),
        easy.Frame(easy.LinkControl(), easy.encode_refusal()),
    ]
    decoded = easy_stream.decode_stream(b"".join(easy.encode_frame(f) for f in frames))
    assert [
        {k: v for k, v in d.items() if k not in easy_link_fields} for d in decoded
    ] == [
        {"type": "version", "version": "P02.00.00"},
        {"type": "message", "hex": b"JDG1234EZ".hex(), "text": "JDG1234EZ"},
        {"type": "clock", "time": "2026-11-27T09:30:00"},
        {"type": "unit", "unit": "mmol/L"},
        {"type": "refused", "status": 9},
    ]


easy_link_fields = {"offset", "sequence", "expect", "ack", "disconnect", "more"}


def test_decode_stream_errors_carry_the_offset() -> None:
    with pytest.raises(DecodeError) as caught:
        easy_stream.decode_stream(DISC + b"\x7f")
    assert caught.value.offset == len(DISC)
    with pytest.raises(DecodeError) as caught:
        easy_stream.decode_stream(DISC + RECORD_ANSWER[:-1] + b"\x00")
    assert caught.value.offset == len(DISC) + len(RECORD_ANSWER) - 2
    assert "CRC" in caught.value.reason


# -- properties ---------------------------------------------------------------------------


@given(st.binary(max_size=80))
def test_any_bytes_decode_or_decode_error(data: bytes) -> None:
    for decoder in (easy.decode_frame, easy_stream.decode_stream, easy.decode_request,
                    easy.decode_record, easy.decode_count, easy.decode_version):
        with contextlib.suppress(DecodeError):
            decoder(data)


@given(st.binary(max_size=80))
def test_find_frame_never_raises_and_always_progresses_or_waits(data: bytes) -> None:
    scan = easy.find_frame(data)
    assert 0 <= scan.used <= len(data)
    if scan.frame is not None:
        assert easy.encode_frame(scan.frame) in data


link_controls = st.builds(easy.LinkControl, st.booleans(), st.booleans(), st.booleans(),
                          st.booleans(), st.booleans())


@given(link_controls, st.binary(max_size=249))
def test_frame_round_trip(link: easy.LinkControl, message: bytes) -> None:
    frame = easy.Frame(link, message)
    assert easy.decode_frame(easy.encode_frame(frame)) == frame


@given(st.datetimes(datetime(1970, 1, 1), datetime(2106, 2, 7)).map(
    lambda d: d.replace(microsecond=0)), st.integers(0, 0xFFFFFFFF))
def test_record_round_trip(moment: datetime, value: int) -> None:
    record = easy.Record(moment, value)
    assert easy.decode_record(easy.encode_record(record)) == record
