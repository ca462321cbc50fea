"""Beurer BM58 / BM55 / BM65 (Andon KD-001 based) serial blood-pressure monitors, 4800 8N1.

Single-byte commands, fixed or self-evident replies:

* ``AA`` wake -> ``55``
* ``A4`` device id -> an ASCII string of up to 128 bytes with no length and no terminator
  (the reference client just reads for half a second); the host reads until the line is quiet
* ``A2`` record count -> one byte
* ``A3 i`` (i = 1..count) -> ``AC (sys-25) (dia-25) pulse month day hour minute (year-2000)``
  or the single byte ``A9`` when that slot is empty

There is no checksum and no clock command: the record time is the monitor's own wall clock,
which the gateway can neither read nor set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from drivers.errors import DecodeError, UsageError

WAKE = 0xAA
WAKE_ACK = 0x55
DEVICE_ID = 0xA4
COUNT = 0xA2
RECORD = 0xA3
RECORD_START = 0xAC
EMPTY_SLOT = 0xA9
RECORD_LEN = 9
MAX_DEVICE_ID = 128
_PRESSURE_BIAS = 25


@dataclass(frozen=True, slots=True)
class BpRecord:
    systolic: int
    diastolic: int
    pulse: int
    taken_at: datetime  # naive monitor-local time


def wake_request() -> bytes:
    return bytes([WAKE])


def device_id_request() -> bytes:
    return bytes([DEVICE_ID])


def count_request() -> bytes:
    return bytes([COUNT])


def record_request(index: int) -> bytes:
    if not 1 <= index <= 0xFF:
        raise UsageError(f"BM58 record index {index} outside 1..255")
    return bytes([RECORD, index])


def decode_wake(data: bytes) -> None:
    if data != bytes([WAKE_ACK]):
        raise DecodeError("wake reply is not 0x55", data, 0)


def decode_count(data: bytes) -> int:
    if len(data) != 1:
        raise DecodeError("record count reply must be one byte", data, 0)
    return data[0]


def decode_device_id(data: bytes) -> str:
    text = data.rstrip(b"\x00 \r\n")
    if not text or len(data) > MAX_DEVICE_ID:
        raise DecodeError("device id must be 1..128 bytes", data, 0)
    bad = next((i for i, b in enumerate(text) if not 0x20 <= b < 0x7F), None)
    if bad is not None:
        raise DecodeError("device id is not printable ASCII", data, bad)
    return text.decode("ascii").strip()


def encode_device_id(text: str) -> bytes:
    raw = text.encode("ascii")
    if not 1 <= len(raw) <= MAX_DEVICE_ID:
        raise UsageError("BM58 device id must be 1..128 ASCII bytes")
    return raw


def decode_record(data: bytes) -> BpRecord | None:
    """A record reply: the record, or None for an empty slot (``A9``)."""
    if data == bytes([EMPTY_SLOT]):
        return None
    if len(data) != RECORD_LEN:
        raise DecodeError(f"record reply must be 9 bytes or A9, got {len(data)}", data, 0)
    if data[0] != RECORD_START:
        raise DecodeError("record reply does not start with 0xAC", data, 0)
    sys_raw, dia_raw, pulse, month, day, hour, minute, year = data[1:]
    try:
        taken = datetime(2000 + year, month, day, hour, minute)  # noqa: DTZ001  monitor wall time
    except ValueError as exc:
        raise DecodeError(
            f"record time 20{year:02d}-{month}-{day} {hour}:{minute} is invalid", data, 4
        ) from exc
    systolic, diastolic = sys_raw + _PRESSURE_BIAS, dia_raw + _PRESSURE_BIAS
    if diastolic >= systolic or pulse == 0:
        raise DecodeError("implausible record: diastolic >= systolic or zero pulse", data, 1)
    return BpRecord(systolic=systolic, diastolic=diastolic, pulse=pulse, taken_at=taken)


def encode_record(record: BpRecord | None) -> bytes:
    if record is None:
        return bytes([EMPTY_SLOT])
    t = record.taken_at
    fields = [
        record.systolic - _PRESSURE_BIAS,
        record.diastolic - _PRESSURE_BIAS,
        record.pulse,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.year - 2000,
    ]
    if not all(0 <= f <= 0xFF for f in fields):
        raise UsageError(f"record {record} does not fit the BM58 byte layout")
    return bytes([RECORD_START, *fields])


# --- stream decoding for `gempita decode --protocol beurer-bm58` -----------------------------


def decode_stream(data: bytes) -> list[dict[str, object]]:
    """Decode a capture of one session.

    Two shapes are accepted. A host+monitor transcript starts with ``AA``: each command byte
    is followed by its reply, and the device id is the run of bytes below 0x80 after ``A4``
    (every command byte is >= 0x80). A monitor-only capture starts with ``55``: then comes the
    id, the count byte (the last byte before the first record or A9) and the record replies.
    """
    if data[:1] == bytes([WAKE_ACK]):
        return _decode_replies(data)
    out: list[dict[str, object]] = []
    pos = 0
    while pos < len(data):
        command = data[pos]
        if command == WAKE:
            reply = data[pos + 1 : pos + 2]
            _at(decode_wake, reply, pos + 1)
            out.append({"command": "wake", "ack": True})
            pos += 2
        elif command == DEVICE_ID:
            end = pos + 1
            while end < len(data) and data[end] < 0x80:
                end += 1
            device = _at(decode_device_id, data[pos + 1 : end], pos + 1)
            out.append({"command": "device_id", "device_id": device})
            pos = end
        elif command == COUNT:
            count = _at(decode_count, data[pos + 1 : pos + 2], pos + 1)
            out.append({"command": "count", "count": count})
            pos += 2
        elif command == RECORD:
            if pos + 2 >= len(data):
                raise DecodeError("record command without index and reply", data[pos:], pos)
            index = data[pos + 1]
            size = 1 if data[pos + 2] == EMPTY_SLOT else RECORD_LEN
            record = _at(decode_record, data[pos + 2 : pos + 2 + size], pos + 2)
            out.append(_record_dict(index, record))
            pos += 2 + size
        else:
            raise DecodeError(f"unknown command byte 0x{command:02X}", data[pos : pos + 1], pos)
    return out


_T = TypeVar("_T")


def _record_dict(index: int, record: BpRecord | None) -> dict[str, object]:
    item: dict[str, object] = {"command": "record", "index": index, "empty": record is None}
    if record is not None:
        item.update(
            systolic=record.systolic,
            diastolic=record.diastolic,
            pulse=record.pulse,
            taken_at=record.taken_at.isoformat(),
        )
    return item


def _decode_replies(data: bytes) -> list[dict[str, object]]:
    out: list[dict[str, object]] = [{"command": "wake", "ack": True}]
    first_record = next(
        (i for i in range(2, len(data)) if data[i] in (RECORD_START, EMPTY_SLOT)), len(data)
    )
    if first_record < 3:
        raise DecodeError("capture lacks the device id and count replies", data[1:], 1)
    count_at = first_record - 1
    device = _at(decode_device_id, data[1:count_at], 1)
    out.append({"command": "device_id", "device_id": device})
    out.append({"command": "count", "count": data[count_at]})
    pos, index = first_record, 1
    while pos < len(data):
        size = 1 if data[pos] == EMPTY_SLOT else RECORD_LEN
        out.append(_record_dict(index, _at(decode_record, data[pos : pos + size], pos)))
        pos += size
        index += 1
    return out


def _at(decoder: Callable[[bytes], _T], chunk: bytes, offset: int) -> _T:
    try:
        return decoder(chunk)
    except DecodeError as exc:
        raise DecodeError(exc.reason, exc.data, offset) from exc
