from __future__ import annotations

import contextlib
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import DecodeError, UsageError
from drivers.serial import onetouch_ultra2 as u2
from drivers.serial.decode import onetouch_ultra2 as u2_stream


def _line(body: bytes) -> bytes:
    """Independent checksum (plain sum) for hand-written error vectors."""
    return body + b" %04X\r\n" % (sum(body) & 0xFFFF)


# -- golden lines (checksums worked out by hand from the 16-bit-sum rule) ---------------------

CLOCK_LINE = b'F "SAT","08/03/13","22:12:00   " 05FA\r\n'
SET_CLOCK_LINE = b'T "FRI","11/27/26","10:00:00   " 05FF\r\n'
SERIAL_LINE = b'@ "ZW123456Y" 02E3\r\n'
VERSION_LINE = b"?P02.00.00 30/08/06 03BC\r\n"
UNIT_LINE = b'SU?,"MG/DL " 02CA\r\n'
HEADER_LINE = b'P 002,"ZW123456Y","MG/DL " 0594\r\n'
RECORD_LINE = b'P "FRI","11/27/26","09:30:00   ","  105 ","B","03", 00 099D\r\n'
CONTROL_LINE = b'P "THU","11/26/26","21:15:00   ","C 132?","N","00", 00 09F4\r\n'
ULTRA_HI_LINE = b'P "WED","01/05/00","07:00:00   ","  650 ", 00 080A\r\n'

RECORD = u2.Record(
    time=datetime(2026, 11, 27, 9, 30),
    weekday="FRI",
    value_mgdl=105,
    control=False,
    parity_error=False,
    meal="preprandial",
    comment=3,
    extended=True,
)
CONTROL = u2.Record(
    time=datetime(2026, 11, 26, 21, 15),
    weekday="THU",
    value_mgdl=132,
    control=True,
    parity_error=True,
    meal=None,
    comment=0,
    extended=True,
)
ULTRA_HI = u2.Record(
    time=datetime(2000, 1, 5, 7, 0),
    weekday="WED",
    value_mgdl=650,
    control=False,
    parity_error=False,
    meal=None,
    comment=None,
    extended=False,
)


def test_decode_clock() -> None:
    assert u2.decode_clock(CLOCK_LINE) == u2.Clock(datetime(2013, 8, 3, 22, 12), "SAT", False)
    assert u2.decode_clock(SET_CLOCK_LINE) == u2.Clock(datetime(2026, 11, 27, 10), "FRI", True)


def test_decode_identity_lines() -> None:
    assert u2.decode_serial(SERIAL_LINE) == "ZW123456Y"
    assert u2.decode_version(VERSION_LINE) == "P02.00.00 30/08/06"
    assert u2.decode_unit(UNIT_LINE) == "mg/dL"
    assert u2.decode_unit(_line(b'SU?,"MMOL/L"')) == "mmol/L"
    assert u2.decode_dump_header(HEADER_LINE) == u2.DumpHeader(2, "ZW123456Y", "mg/dL")


@pytest.mark.parametrize(
    ("line", "record"),
    [(RECORD_LINE, RECORD), (CONTROL_LINE, CONTROL), (ULTRA_HI_LINE, ULTRA_HI)],
)
def test_decode_record(line: bytes, record: u2.Record) -> None:
    assert u2.decode_record(line) == record


@pytest.mark.parametrize(
    ("line", "record"),
    [(RECORD_LINE, RECORD), (CONTROL_LINE, CONTROL), (ULTRA_HI_LINE, ULTRA_HI)],
)
def test_encode_record(line: bytes, record: u2.Record) -> None:
    assert u2.encode_record(record) == line


def test_encode_answers() -> None:
    assert u2.encode_clock(u2.Clock(datetime(2013, 8, 3, 22, 12), "SAT")) == CLOCK_LINE
    assert u2.encode_clock(u2.Clock(datetime(2026, 11, 27, 10), "FRI", True)) == SET_CLOCK_LINE
    assert u2.encode_serial("ZW123456Y") == SERIAL_LINE
    assert u2.encode_version("P02.00.00 30/08/06") == VERSION_LINE
    assert u2.encode_unit("mg/dL") == UNIT_LINE
    assert u2.encode_dump_header(u2.DumpHeader(2, "ZW123456Y", "mg/dL")) == HEADER_LINE


def test_hi_lo_and_key_value() -> None:
    assert (ULTRA_HI.hi, ULTRA_HI.lo) == (True, False)
    low = u2.decode_record(_line(b'P "FRI","11/27/26","09:30:00   ","  019 ","A","00", 00'))
    assert (low.hi, low.lo, low.meal) == (False, True, "postprandial")
    assert CONTROL.key_value == "C132"
    assert RECORD.key_value == "105 preprandial comment:3"


def test_commands() -> None:
    assert u2.encode_command(u2.Command(u2.CMD_DUMP)) == b"\x11\rDMP\r"
    assert u2.encode_command(u2.set_clock_command(datetime(2026, 11, 27, 10, 0, 5))) == (
        b"\x11\rDMT11/27/26 10:00:05\r"
    )
    with pytest.raises(UsageError):
        u2.encode_command(u2.Command("DMX"))
    with pytest.raises(UsageError):
        u2.encode_command(u2.Command(u2.CMD_DUMP, "x"))
    with pytest.raises(UsageError):
        u2.set_clock_command(datetime(1999, 12, 31))


@pytest.mark.parametrize(
    ("buffer", "expected"),
    [
        (b"\x11\rDM?\r", (u2.Command("DM?"), 5)),
        (b"\x11\rDMSU?\r", (u2.Command("DMSU?"), 7)),
        (b"DMP", (u2.Command("DMP"), 3)),  # Tidepool style: no trailing CR
        (b"\x11\rDMT11/27/26 10:00:05\r", (u2.Command("DMT", "11/27/26 10:00:05"), 22)),
        (b"\x11\rDMT11/27", (None, 2)),  # wait for the rest of the argument
        (b"\x11\rDMS", (None, 2)),  # a prefix of DMSU? / DMST?
        (b"\x11\r", (None, 2)),
        (b"xxD", (None, 2)),  # keep a trailing D
        (b"DMXY", (None, 2)),  # unknown: skip "DM"
    ],
)
def test_parse_command(buffer: bytes, expected: tuple[u2.Command | None, int]) -> None:
    assert u2.parse_command(buffer) == expected


def test_leading_junk_is_skipped() -> None:
    assert u2.decode_serial(b"\n\x00\xfe" + SERIAL_LINE) == "ZW123456Y"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (SERIAL_LINE.replace(b"02E3", b"02E4"), "checksum"),
        (b'@ "ZW123456Y"\r\n', "without"),
        (_line(b'P "FRI","02/30/26","09:30:00   ","  105 ","B","03", 00'), "impossible date"),
        (_line(b'P "FRI","11/27/26","09:30:00   ","      ","B","03", 00'), "without a value"),
        (_line(b'P "FRI","11/27/26","09:30:00   ","  105 ","X","03", 00'), "record"),
        (_line(b"@ \xe9"), "ASCII"),
    ],
)
def test_decode_errors(line: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        if b"P " in line:
            u2.decode_record(line)
        else:
            u2.decode_serial(line)


def test_wrong_line_kind_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="DMF"):
        u2.decode_clock(SERIAL_LINE)


def test_decode_stream_whole_dump() -> None:
    stream = VERSION_LINE + HEADER_LINE + RECORD_LINE + ULTRA_HI_LINE + b"\x00"
    assert u2_stream.decode_stream(stream) == [
        {"type": "version", "version": "P02.00.00 30/08/06", "offset": 0},
        {"type": "dump_header", "count": 2, "serial": "ZW123456Y", "unit": "mg/dL",
         "offset": 26},
        {"type": "record", "time": "2026-11-27T09:30:00", "weekday": "FRI", "glucose_mgdl": 105,
         "control": False, "parity_error": False, "meal": "preprandial",
         "comment": "mild_exercise", "comment_code": 3, "hi": False, "lo": False, "offset": 59},
        {"type": "record", "time": "2000-01-05T07:00:00", "weekday": "WED", "glucose_mgdl": 650,
         "control": False, "parity_error": False, "meal": None, "comment": None,
         "comment_code": None, "hi": True, "lo": False, "offset": 120},
        {"type": "not_ready", "offset": 172},
    ]


def test_decode_stream_reports_offset_of_bad_line() -> None:
    stream = SERIAL_LINE + CLOCK_LINE.replace(b"05FA", b"05FB")
    with pytest.raises(DecodeError) as caught:
        u2_stream.decode_stream(stream)
    assert caught.value.offset == len(SERIAL_LINE)
    assert "checksum" in caught.value.reason


# -- properties ---------------------------------------------------------------------------


@given(st.binary(max_size=120))
def test_any_bytes_decode_or_decode_error(data: bytes) -> None:
    for decoder in (u2.decode_record, u2.decode_clock, u2.decode_dump_header, u2.decode_serial):
        with contextlib.suppress(DecodeError):
            decoder(data)
    with contextlib.suppress(DecodeError):
        u2_stream.decode_stream(data)


@given(st.binary(max_size=60))
def test_any_bytes_parse_command_consumes_progress(data: bytes) -> None:
    command, used = u2.parse_command(data)
    assert 0 <= used <= len(data)
    assert command is None or used > 0


records = st.builds(
    lambda moment, value, control, parity, meal, comment, extended: u2.Record(
        time=moment,
        weekday=u2.WEEKDAYS[moment.weekday()],
        value_mgdl=value,
        control=control,
        parity_error=parity,
        meal=meal if extended else None,
        comment=comment if extended else None,
        extended=extended,
    ),
    st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59)).map(
        lambda d: d.replace(microsecond=0)
    ),
    st.integers(0, 999),
    st.booleans(),
    st.booleans(),
    st.sampled_from([None, "preprandial", "postprandial"]),
    st.integers(0, 11),
    st.booleans(),
)


@given(records)
def test_record_round_trip(record: u2.Record) -> None:
    assert u2.decode_record(u2.encode_record(record)) == record


@given(st.lists(records, max_size=5))
def test_dump_round_trip_through_decode_stream(memory: list[u2.Record]) -> None:
    stream = u2.encode_dump_header(u2.DumpHeader(len(memory), "ZW123456Y", "mmol/L")) + b"".join(
        u2.encode_record(r) for r in memory
    )
    decoded = u2_stream.decode_stream(stream)
    assert decoded[0]["count"] == len(memory)
    assert [d["glucose_mgdl"] for d in decoded[1:]] == [r.value_mgdl for r in memory]
    assert [d["time"] for d in decoded[1:]] == [r.time.isoformat() for r in memory]
