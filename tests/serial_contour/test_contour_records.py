"""E1394 records of Contour meters and the `gempita decode --protocol contour` stream decoder."""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import DecodeError
from drivers.serial import astm, contour
from drivers.serial.decode import contour as contour_stream
from drivers.serial.decode_stream import decode_stream as decode_by_name
from simulators.serial.contour import transfer_frames

HEADER = (
    b"H|\\^&||abc|Contour^01.10\\01.11\\02.00.00^7150-1234567^7390|A=1^C=11^G=1^I=0200^R=0^S=1"
    b"^U=0^V=10600^X=070070180130180180070180^Y=360126090050099050300089^Z=1|45||||||1|"
    b"202611271415"
)
HEADER_RECORD = contour.HeaderRecord(
    delimiters=contour.Delimiters("|", "\\", "^", "&"),
    password="abc",
    product_code="Contour",
    versions=("01.10", "01.11", "02.00.00"),
    serial="7150-1234567",
    sku="7390",
    settings=MappingProxyType(
        {
            "A": "1",
            "C": "11",
            "G": "1",
            "I": "0200",
            "R": "0",
            "S": "1",
            "U": "0",
            "V": "10600",
            "X": "070070180130180180070180",
            "Y": "360126090050099050300089",
            "Z": "1",
        }
    ),
    record_count=45,
    spec_version="1",
    meter_time=datetime(2026, 11, 27, 14, 15),
)
RESULT = b"R|3|^^^Glucose|112|mg/dL^P||B||202611270730"
RESULT_RECORD = contour.ResultRecord(
    sequence=3,
    test="Glucose",
    value="112",
    unit="mg/dL",
    method="P",
    markers=("B",),
    taken_at=datetime(2026, 11, 27, 7, 30),
)


def test_header_golden() -> None:
    record = contour.decode_record(HEADER)
    assert record == HEADER_RECORD
    assert isinstance(record, contour.HeaderRecord)
    assert record.unit == "mg/dL"
    assert contour.encode_record(record) == HEADER


def test_header_delimiters_are_field_repeat_component_escape() -> None:
    assert contour.delimiters_from_header(b"H|\\^&") == contour.Delimiters(
        field="|", repeat="\\", component="^", escape="&"
    )
    other = contour.delimiters_from_header(b"H!@#$!x")
    assert other == contour.Delimiters(field="!", repeat="@", component="#", escape="$")


def test_result_golden() -> None:
    record = contour.decode_record(RESULT)
    assert record == RESULT_RECORD
    assert contour.encode_record(RESULT_RECORD) == RESULT
    assert RESULT_RECORD.meal == "preprandial"
    assert RESULT_RECORD.glucose_mgdl == 112.0


def test_result_with_seconds_and_mmol_and_several_markers() -> None:
    record = contour.decode_record(b"R|12|^^^Glucose|6.2|mmol/L^B||A/C||20261127073012")
    assert record == contour.ResultRecord(
        sequence=12,
        test="Glucose",
        value="6.2",
        unit="mmol/L",
        method="B",
        markers=("A", "C"),
        taken_at=datetime(2026, 11, 27, 7, 30, 12),
    )
    assert isinstance(record, contour.ResultRecord)
    assert record.control
    assert record.meal == "postprandial"
    assert record.glucose_mgdl == pytest.approx(6.2 * 18.016)


@pytest.mark.parametrize(("marker", "hi", "lo"), [(">", True, False), ("<", False, True)])
def test_hi_lo_have_no_glucose_value(marker: str, hi: bool, lo: bool) -> None:
    text = f"R|1|^^^Glucose|600|mg/dL^P||{marker}||202611270730".encode()
    record = contour.decode_record(text)
    assert isinstance(record, contour.ResultRecord)
    assert (record.hi, record.lo, record.glucose_mgdl) == (hi, lo, None)


def test_other_records() -> None:
    assert contour.decode_record(b"P|1") == contour.PatientRecord(1, ())
    assert contour.decode_record(b"O|2|x^y") == contour.OrderRecord(2, ("x^y",))
    assert contour.decode_record(b"C|1|note") == contour.CommentRecord(1, ("note",))
    assert contour.decode_record(b"L|1|N") == contour.TerminatorRecord(1, "N")
    # What a Contour sends (glucometerutils test_bacontour.py capture): the code one field on.
    assert contour.decode_record(b"L|1||N") == contour.TerminatorRecord(1, "N")
    assert contour.encode_record(contour.TerminatorRecord(1, "N")) == b"L|1||N"
    assert contour.encode_record(contour.PatientRecord(1)) == b"P|1"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"", "empty record"),
        (b"X|1", "unknown record type 'X'"),
        (b"R|a|^^^Glucose|1|mg/dL||||202611270730", "sequence 'a' is not a number"),
        (b"R|1|^^^Glucose|abc|mg/dL^P||||202611270730", "result value 'abc' is not a number"),
        (
            b"R|1|^^^Glucose|5|g/L^P||||202611270730",
            "result unit 'g/L' is neither mg/dL nor mmol/L",
        ),
        (b"R|1|^^^Glucose|5|mg/dL^P||||202613270730", "time '202613270730' is not a valid date"),
        (b"R|1|^^^Glucose|5", "result has 4 fields, expected 9"),
        (b"H|\\^&||", "header has 4 fields, expected 14"),
        (b"H||||", "header delimiters must be four distinct symbols"),
    ],
)
def test_bad_records(text: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        contour.decode_record(text)
    assert info.value.reason == reason


@given(st.binary(max_size=200))
def test_decode_record_any_bytes(data: bytes) -> None:
    try:
        record = contour.decode_record(data)
    except DecodeError:
        return
    assert isinstance(
        record,
        contour.HeaderRecord
        | contour.PatientRecord
        | contour.OrderRecord
        | contour.ResultRecord
        | contour.CommentRecord
        | contour.TerminatorRecord,
    )


_VALUE = st.one_of(
    st.integers(0, 9999).map(str),
    st.tuples(st.integers(0, 99), st.integers(0, 9)).map(lambda t: f"{t[0]}.{t[1]}"),
)


@given(
    st.integers(1, 9999),
    _VALUE,
    st.sampled_from([contour.MGDL, contour.MMOLL]),
    st.sampled_from(["P", "B", "C", ""]),
    st.lists(st.sampled_from(["B", "A", "F", "D", ">", "<", "C", "Z"]), max_size=3),
    st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)),
)
def test_result_round_trip(
    seq: int, value: str, unit: str, method: str, markers: list[str], when: datetime
) -> None:
    record = contour.ResultRecord(
        seq, "Glucose", value, unit, method, tuple(markers), when.replace(microsecond=0)
    )
    assert contour.decode_record(contour.encode_record(record)) == record


def _transfer(records: list[bytes]) -> bytes:
    out = bytearray([astm.ENQ, astm.ACK])
    for frame in transfer_frames(records):
        out += frame + bytes([astm.ACK])
    return bytes(out) + bytes([astm.EOT])


def test_stream_decoder_golden() -> None:
    data = _transfer([HEADER, b"P|1", RESULT, b"L|1|N"])
    assert contour_stream.decode_stream(data) == [
        {
            "type": "header",
            "product_code": "Contour",
            "versions": ["01.10", "01.11", "02.00.00"],
            "serial": "7150-1234567",
            "sku": "7390",
            "unit": "mg/dL",
            "settings": dict(HEADER_RECORD.settings),
            "record_count": 45,
            "spec_version": "1",
            "processing_id": "",
            "meter_time": "2026-11-27T14:15:00",
        },
        {"type": "patient", "sequence": 1, "fields": []},
        {
            "type": "result",
            "sequence": 3,
            "test": "Glucose",
            "value": "112",
            "unit": "mg/dL",
            "method": "P",
            "markers": ["B"],
            "glucose_mgdl": 112.0,
            "meal": "preprandial",
            "hi": False,
            "lo": False,
            "control": False,
            "taken_at": "2026-11-27T07:30:00",
        },
        {"type": "terminator", "sequence": 1, "code": "N"},
    ]
    assert decode_by_name("contour", data) == contour_stream.decode_stream(data)
    assert decode_by_name("bayer-contour", data) == contour_stream.decode_stream(data)


def test_stream_decoder_skips_retransmission() -> None:
    frame = astm.encode_frame(astm.Frame(1, b"L|1|N\r", final=True))
    data = bytes([astm.ENQ]) + frame + frame + bytes([astm.EOT])
    assert contour_stream.decode_stream(data) == [
        {"type": "terminator", "sequence": 1, "code": "N"}
    ]


def test_stream_decoder_reports_first_bad_frame_offset() -> None:
    good = _transfer([b"P|1"])[:-1]  # without EOT
    bad = bytearray(astm.encode_frame(astm.Frame(2, b"L|1|N\r", final=True)))
    bad[-4:-2] = b"00"
    with pytest.raises(DecodeError) as info:
        contour_stream.decode_stream(good + bytes(bad))
    assert info.value.offset == len(good)
    assert info.value.reason.startswith("checksum mismatch")


def test_stream_decoder_reports_truncation_and_noise() -> None:
    frame = astm.encode_frame(astm.Frame(1, b"L|1|N\r", final=True))
    with pytest.raises(DecodeError, match="stream ends inside a frame") as info:
        contour_stream.decode_stream(bytes([astm.ENQ]) + frame[:5])
    assert info.value.offset == 1
    with pytest.raises(DecodeError, match="bytes outside any frame") as info:
        contour_stream.decode_stream(bytes([astm.ENQ]) + b"zz" + frame)
    assert info.value.offset == 1


@given(st.binary(max_size=300))
def test_stream_decoder_any_bytes(data: bytes) -> None:
    try:
        result = contour_stream.decode_stream(data)
    except DecodeError:
        return
    assert isinstance(result, list)
