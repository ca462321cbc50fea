"""Record Access Control Point 0x2A52 (PROTOCOLS.md §3.5): requests and responses, both ways.

A request is `op code, operator, operand`; for the filtering operators the operand is a filter
type followed by one (≤, ≥) or two (range) values: uint16 sequence numbers (filter 0x01) or
Date Times (filter 0x02, user-facing time). Request decoding is lenient about *meaning* (an
unknown op code or operator decodes, so a simulator can answer "not supported") and strict only
about length. Filter types we do not know keep their operand bytes in `raw_operand`.

Responses from the server are a record count (`05 00 u16`) or a response code
(`06 00 <request op> <code>`); any other op code from a server is garbage -> DecodeError.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from drivers.ble.datetime_codec import (
    DATE_TIME_LEN,
    BleDateTime,
    decode_date_time,
    encode_date_time,
)
from drivers.errors import DecodeError, UsageError


class Opcode(IntEnum):
    REPORT_STORED_RECORDS = 0x01
    DELETE_STORED_RECORDS = 0x02
    ABORT_OPERATION = 0x03
    REPORT_NUMBER_OF_STORED_RECORDS = 0x04
    NUMBER_OF_STORED_RECORDS_RESPONSE = 0x05
    RESPONSE_CODE = 0x06


class Operator(IntEnum):
    NULL = 0x00
    ALL_RECORDS = 0x01
    LESS_THAN_OR_EQUAL_TO = 0x02
    GREATER_THAN_OR_EQUAL_TO = 0x03
    WITHIN_RANGE_OF = 0x04
    FIRST_RECORD = 0x05  # the oldest
    LAST_RECORD = 0x06  # the most recent


class FilterType(IntEnum):
    SEQUENCE_NUMBER = 0x01
    USER_FACING_TIME = 0x02


class ResponseCode(IntEnum):
    SUCCESS = 0x01
    OP_CODE_NOT_SUPPORTED = 0x02
    INVALID_OPERATOR = 0x03
    OPERATOR_NOT_SUPPORTED = 0x04
    INVALID_OPERAND = 0x05
    NO_RECORDS_FOUND = 0x06
    ABORT_UNSUCCESSFUL = 0x07
    PROCEDURE_NOT_COMPLETED = 0x08
    OPERAND_NOT_SUPPORTED = 0x09


# ATT application errors a GLS server returns when it rejects a RACP write (§3.5).
ATT_PROCEDURE_ALREADY_IN_PROGRESS = 0x80
ATT_CCCD_IMPROPERLY_CONFIGURED = 0x81

_REQUEST_OPCODES = frozenset(
    {
        Opcode.REPORT_STORED_RECORDS,
        Opcode.DELETE_STORED_RECORDS,
        Opcode.REPORT_NUMBER_OF_STORED_RECORDS,
    }
)
_ONE_VALUE = frozenset({Operator.LESS_THAN_OR_EQUAL_TO, Operator.GREATER_THAN_OR_EQUAL_TO})

FilterValue = int | BleDateTime

_E = TypeVar("_E", bound=IntEnum)


def _as_enum(kind: type[_E], value: int) -> _E | int:
    try:
        return kind(value)
    except ValueError:
        return value


@dataclass(frozen=True, slots=True)
class RacpRequest:
    """A client's RACP write. Ints that match a known code decode as the IntEnum member."""

    opcode: Opcode | int
    operator: Operator | int
    filter_type: FilterType | int | None = None
    values: tuple[FilterValue, ...] = ()  # 1 value for <=/>=, 2 for a range
    raw_operand: bytes = b""  # operand bytes not interpreted (unknown filter / op code)

    @property
    def sequence_range(self) -> tuple[int | None, int | None] | None:
        """(min, max) sequence numbers this request selects, None = open; None if not seq-based.

        "All", "first" and "last" give (None, None); a simulator resolves first/last itself.
        """
        if self.operator in (Operator.ALL_RECORDS, Operator.FIRST_RECORD, Operator.LAST_RECORD):
            return (None, None)
        if self.filter_type != FilterType.SEQUENCE_NUMBER:
            return None
        ints = [v for v in self.values if isinstance(v, int)]
        if self.operator == Operator.LESS_THAN_OR_EQUAL_TO and len(ints) == 1:
            return (None, ints[0])
        if self.operator == Operator.GREATER_THAN_OR_EQUAL_TO and len(ints) == 1:
            return (ints[0], None)
        if self.operator == Operator.WITHIN_RANGE_OF and len(ints) == 2:
            return (ints[0], ints[1])
        return None


@dataclass(frozen=True, slots=True)
class NumberOfRecordsResponse:
    count: int


@dataclass(frozen=True, slots=True)
class ResponseCodeResponse:
    request_opcode: Opcode | int
    response_code: ResponseCode | int

    @property
    def ok(self) -> bool:
        return self.response_code == ResponseCode.SUCCESS

    @property
    def no_records(self) -> bool:
        return self.response_code == ResponseCode.NO_RECORDS_FOUND


RacpResponse = NumberOfRecordsResponse | ResponseCodeResponse


def _value_size(filter_type: int) -> int | None:
    if filter_type == FilterType.SEQUENCE_NUMBER:
        return 2
    if filter_type == FilterType.USER_FACING_TIME:
        return DATE_TIME_LEN
    return None


def decode_racp_request(data: bytes) -> RacpRequest:
    data = bytes(data)
    if len(data) < 2:
        raise DecodeError(f"RACP request needs at least 2 bytes, got {len(data)}", data, 0)
    opcode = _as_enum(Opcode, data[0])
    operator = _as_enum(Operator, data[1])
    rest = data[2:]
    count = 0
    if opcode in _REQUEST_OPCODES:
        if operator in _ONE_VALUE:
            count = 1
        elif operator == Operator.WITHIN_RANGE_OF:
            count = 2
    if count == 0:
        # No operand defined for this combination; anything after it is kept, not judged.
        return RacpRequest(opcode, operator, raw_operand=rest)
    if not rest:
        raise DecodeError("RACP request: operator needs a filter type", data, 2)
    filter_type = _as_enum(FilterType, rest[0])
    size = _value_size(rest[0])
    if size is None:
        return RacpRequest(opcode, operator, filter_type, raw_operand=rest[1:])
    needed = 3 + size * count
    if len(data) < needed:
        raise DecodeError(
            f"RACP request: {count} filter value(s) need {needed} bytes, got {len(data)}",
            data,
            len(data),
        )
    values: list[FilterValue] = []
    for index in range(count):
        start = 3 + index * size
        if size == 2:
            values.append(int.from_bytes(data[start : start + 2], "little"))
        else:
            values.append(decode_date_time(data, start))
    return RacpRequest(opcode, operator, filter_type, tuple(values))


def encode_racp_request(request: RacpRequest) -> bytes:
    if not 0 <= request.opcode <= 0xFF or not 0 <= request.operator <= 0xFF:
        raise UsageError(f"RACP op code/operator out of byte range: {request!r}")
    out = bytearray([request.opcode, request.operator])
    if request.filter_type is not None:
        if not 0 <= request.filter_type <= 0xFF:
            raise UsageError(f"RACP filter type out of byte range: {request.filter_type}")
        out.append(request.filter_type)
    for value in request.values:
        if isinstance(value, BleDateTime):
            out += encode_date_time(value)
        else:
            if not 0 <= value <= 0xFFFF:
                raise UsageError(f"RACP sequence number out of uint16 range: {value}")
            out += value.to_bytes(2, "little")
    out += request.raw_operand
    return bytes(out)


def decode_racp_response(data: bytes) -> RacpResponse:
    data = bytes(data)
    if not data:
        raise DecodeError("RACP response: empty frame", data, 0)
    if data[0] == Opcode.NUMBER_OF_STORED_RECORDS_RESPONSE:
        if len(data) < 4:
            raise DecodeError("RACP number-of-records response needs 4 bytes", data, len(data))
        return NumberOfRecordsResponse(int.from_bytes(data[2:4], "little"))
    if data[0] == Opcode.RESPONSE_CODE:
        if len(data) < 4:
            raise DecodeError("RACP response-code response needs 4 bytes", data, len(data))
        return ResponseCodeResponse(_as_enum(Opcode, data[2]), _as_enum(ResponseCode, data[3]))
    raise DecodeError(f"RACP: op code 0x{data[0]:02x} is not a server response", data, 0)


def encode_racp_response(response: RacpResponse) -> bytes:
    if isinstance(response, NumberOfRecordsResponse):
        if not 0 <= response.count <= 0xFFFF:
            raise UsageError(f"record count out of uint16 range: {response.count}")
        return bytes([Opcode.NUMBER_OF_STORED_RECORDS_RESPONSE, Operator.NULL]) + (
            response.count.to_bytes(2, "little")
        )
    if not 0 <= response.request_opcode <= 0xFF or not 0 <= response.response_code <= 0xFF:
        raise UsageError(f"RACP response out of byte range: {response!r}")
    return bytes(
        [Opcode.RESPONSE_CODE, Operator.NULL, response.request_opcode, response.response_code]
    )


# Requests a client sends, named as in §3.5 "Common writes".
def report_all() -> RacpRequest:
    return RacpRequest(Opcode.REPORT_STORED_RECORDS, Operator.ALL_RECORDS)


def report_from_sequence(first: int) -> RacpRequest:
    """Records with sequence number >= `first` (RACP uses >=: pass last committed + 1)."""
    return RacpRequest(
        Opcode.REPORT_STORED_RECORDS,
        Operator.GREATER_THAN_OR_EQUAL_TO,
        FilterType.SEQUENCE_NUMBER,
        (first,),
    )


def report_sequence_range(first: int, last: int) -> RacpRequest:
    return RacpRequest(
        Opcode.REPORT_STORED_RECORDS,
        Operator.WITHIN_RANGE_OF,
        FilterType.SEQUENCE_NUMBER,
        (first, last),
    )


def report_first() -> RacpRequest:
    return RacpRequest(Opcode.REPORT_STORED_RECORDS, Operator.FIRST_RECORD)


def report_last() -> RacpRequest:
    return RacpRequest(Opcode.REPORT_STORED_RECORDS, Operator.LAST_RECORD)


def count_all() -> RacpRequest:
    return RacpRequest(Opcode.REPORT_NUMBER_OF_STORED_RECORDS, Operator.ALL_RECORDS)


def count_from_sequence(first: int) -> RacpRequest:
    return RacpRequest(
        Opcode.REPORT_NUMBER_OF_STORED_RECORDS,
        Operator.GREATER_THAN_OR_EQUAL_TO,
        FilterType.SEQUENCE_NUMBER,
        (first,),
    )


def delete_all() -> RacpRequest:
    return RacpRequest(Opcode.DELETE_STORED_RECORDS, Operator.ALL_RECORDS)


def abort() -> RacpRequest:
    return RacpRequest(Opcode.ABORT_OPERATION, Operator.NULL)
