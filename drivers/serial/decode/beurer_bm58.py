"""`gempita decode --protocol beurer-bm58`: a recorded session -> JSON-ready dicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from drivers.errors import DecodeError
from drivers.serial.beurer_bm58 import (
    COUNT,
    DEVICE_ID,
    EMPTY_SLOT,
    RECORD,
    RECORD_LEN,
    RECORD_START,
    WAKE,
    WAKE_ACK,
    BpRecord,
    decode_count,
    decode_device_id,
    decode_record,
    decode_wake,
)


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
