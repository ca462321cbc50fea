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

from dataclasses import dataclass
from datetime import datetime

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
