from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ble import racp
from drivers.ble.datetime_codec import BleDateTime
from drivers.ble.racp import (
    FilterType,
    NumberOfRecordsResponse,
    Opcode,
    Operator,
    RacpRequest,
    ResponseCode,
    ResponseCodeResponse,
    decode_racp_request,
    decode_racp_response,
    encode_racp_request,
    encode_racp_response,
)
from drivers.errors import DecodeError, UsageError

from .strategies import attempt, date_times, u16

SEQ = FilterType.SEQUENCE_NUMBER


@pytest.mark.parametrize(
    ("wire", "expected", "helper"),
    [
        ("01 01", RacpRequest(Opcode.REPORT_STORED_RECORDS, Operator.ALL_RECORDS),
         racp.report_all()),
        ("04 01", RacpRequest(Opcode.REPORT_NUMBER_OF_STORED_RECORDS, Operator.ALL_RECORDS),
         racp.count_all()),
        ("01 03 01 0a 00",
         RacpRequest(Opcode.REPORT_STORED_RECORDS, Operator.GREATER_THAN_OR_EQUAL_TO, SEQ, (10,)),
         racp.report_from_sequence(10)),
        ("04 03 01 00 01",
         RacpRequest(Opcode.REPORT_NUMBER_OF_STORED_RECORDS, Operator.GREATER_THAN_OR_EQUAL_TO,
                     SEQ, (256,)),
         racp.count_from_sequence(256)),
        ("01 04 01 01 00 05 00",
         RacpRequest(Opcode.REPORT_STORED_RECORDS, Operator.WITHIN_RANGE_OF, SEQ, (1, 5)),
         racp.report_sequence_range(1, 5)),
        ("01 05", RacpRequest(Opcode.REPORT_STORED_RECORDS, Operator.FIRST_RECORD),
         racp.report_first()),
        ("01 06", RacpRequest(Opcode.REPORT_STORED_RECORDS, Operator.LAST_RECORD),
         racp.report_last()),
        ("02 01", RacpRequest(Opcode.DELETE_STORED_RECORDS, Operator.ALL_RECORDS),
         racp.delete_all()),
        ("03 00", RacpRequest(Opcode.ABORT_OPERATION, Operator.NULL), racp.abort()),
    ],
)
def test_common_requests(wire: str, expected: RacpRequest, helper: RacpRequest) -> None:
    data = bytes.fromhex(wire)
    assert decode_racp_request(data) == expected
    assert helper == expected
    assert encode_racp_request(expected) == data


def test_less_or_equal_and_time_filter() -> None:
    data = bytes.fromhex("02 02 01 ff ff")
    assert decode_racp_request(data) == RacpRequest(
        Opcode.DELETE_STORED_RECORDS, Operator.LESS_THAN_OR_EQUAL_TO, SEQ, (0xFFFF,)
    )
    timed = bytes.fromhex("01 04 02 e9 07 01 0f 00 00 00 e9 07 01 10 00 00 00")
    request = decode_racp_request(timed)
    assert request == RacpRequest(
        Opcode.REPORT_STORED_RECORDS,
        Operator.WITHIN_RANGE_OF,
        FilterType.USER_FACING_TIME,
        (BleDateTime(2025, 1, 15, 0, 0, 0), BleDateTime(2025, 1, 16, 0, 0, 0)),
    )
    assert encode_racp_request(request) == timed
    assert request.sequence_range is None


def test_unknown_codes_decode_for_the_simulator_to_refuse() -> None:
    assert decode_racp_request(bytes.fromhex("09 01")) == RacpRequest(9, Operator.ALL_RECORDS)
    assert decode_racp_request(bytes.fromhex("01 07 aa")) == RacpRequest(
        Opcode.REPORT_STORED_RECORDS, 7, raw_operand=b"\xaa"
    )
    unknown_filter = decode_racp_request(bytes.fromhex("01 03 07 aa bb"))
    assert unknown_filter == RacpRequest(
        Opcode.REPORT_STORED_RECORDS, Operator.GREATER_THAN_OR_EQUAL_TO, 7, raw_operand=b"\xaa\xbb"
    )
    assert encode_racp_request(unknown_filter) == bytes.fromhex("01 03 07 aa bb")


def test_trailing_bytes_ignored_for_filtered_requests() -> None:
    assert decode_racp_request(bytes.fromhex("01 03 01 0a 00 ff")) == racp.report_from_sequence(10)


@pytest.mark.parametrize(
    "wire", ["", "01", "01 03", "01 03 01 0a", "01 04 01 01 00 05", "01 02 02 e9 07 01"]
)
def test_short_requests(wire: str) -> None:
    with pytest.raises(DecodeError):
        decode_racp_request(bytes.fromhex(wire))


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (racp.report_all(), (None, None)),
        (racp.report_first(), (None, None)),
        (racp.report_from_sequence(7), (7, None)),
        (racp.report_sequence_range(3, 9), (3, 9)),
        (RacpRequest(Opcode.REPORT_STORED_RECORDS, Operator.LESS_THAN_OR_EQUAL_TO, SEQ, (4,)),
         (None, 4)),
        (racp.abort(), None),
    ],
)
def test_sequence_range(request_: RacpRequest, expected: object) -> None:
    assert request_.sequence_range == expected


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("05 00 2a 00", NumberOfRecordsResponse(42)),
        ("05 00 ff ff", NumberOfRecordsResponse(65535)),
        ("06 00 01 01", ResponseCodeResponse(Opcode.REPORT_STORED_RECORDS, ResponseCode.SUCCESS)),
        ("06 00 01 06",
         ResponseCodeResponse(Opcode.REPORT_STORED_RECORDS, ResponseCode.NO_RECORDS_FOUND)),
        ("06 00 04 05",
         ResponseCodeResponse(Opcode.REPORT_NUMBER_OF_STORED_RECORDS,
                              ResponseCode.INVALID_OPERAND)),
        ("06 00 09 02", ResponseCodeResponse(9, ResponseCode.OP_CODE_NOT_SUPPORTED)),
        ("06 00 01 0a", ResponseCodeResponse(Opcode.REPORT_STORED_RECORDS, 10)),
    ],
)
def test_responses(wire: str, expected: object) -> None:
    data = bytes.fromhex(wire)
    assert decode_racp_response(data) == expected
    assert encode_racp_response(decode_racp_response(data)) == data


def test_response_helpers() -> None:
    assert decode_racp_response(bytes.fromhex("06 00 01 01")).ok  # type: ignore[union-attr]
    done = decode_racp_response(bytes.fromhex("06 00 01 06"))
    assert isinstance(done, ResponseCodeResponse)
    assert done.no_records
    assert not done.ok


@pytest.mark.parametrize("wire", ["", "05 00 01", "06 00 01", "01 01", "07 00 00 00"])
def test_bad_responses(wire: str) -> None:
    with pytest.raises(DecodeError):
        decode_racp_response(bytes.fromhex(wire))


def test_encoder_misuse() -> None:
    with pytest.raises(UsageError):
        encode_racp_request(racp.report_from_sequence(0x10000))
    with pytest.raises(UsageError):
        encode_racp_response(NumberOfRecordsResponse(-1))
    with pytest.raises(UsageError):
        encode_racp_response(ResponseCodeResponse(256, 1))


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(st.binary(max_size=20))
def test_racp_any_bytes(data: bytes) -> None:
    request = attempt(decode_racp_request, data)
    if isinstance(request, DecodeError):
        assert request.data == data
    else:
        assert data.startswith(encode_racp_request(request))
    response = attempt(decode_racp_response, data)
    if not isinstance(response, DecodeError):
        assert decode_racp_response(encode_racp_response(response)) == response


requests = st.one_of(
    st.builds(
        RacpRequest,
        st.sampled_from([1, 2, 4]),
        st.sampled_from([2, 3]),
        st.just(SEQ),
        st.tuples(u16),
    ),
    st.builds(
        RacpRequest,
        st.sampled_from([1, 2, 4]),
        st.just(4),
        st.just(FilterType.USER_FACING_TIME),
        st.tuples(date_times, date_times),
    ),
    st.builds(RacpRequest, st.integers(0, 255), st.sampled_from([0, 1, 5, 6])),
)


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(requests)
def test_request_object_round_trip(request: RacpRequest) -> None:
    assert decode_racp_request(encode_racp_request(request)) == request


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(st.one_of(st.builds(NumberOfRecordsResponse, u16),
                 st.builds(ResponseCodeResponse, st.integers(0, 255), st.integers(0, 255))))
def test_response_object_round_trip(response: NumberOfRecordsResponse) -> None:
    assert decode_racp_response(encode_racp_response(response)) == response
