"""`gempita decode --protocol onetouch-ultra2`: a recorded meter->host stream -> one
JSON-ready dict per line."""

from __future__ import annotations

from drivers.errors import DecodeError
from drivers.serial.onetouch_ultra2 import (
    COMMENTS,
    DUMP_HEADER,
    LINE_END,
    decode_clock,
    decode_dump_header,
    decode_record,
    decode_serial,
    decode_unit,
    decode_version,
    split_line,
)


def decode_stream(data: bytes) -> list[dict[str, object]]:
    """Decode a recorded meter->host Ultra 2 stream, one dict per line.

    Fields: ``type`` (``version``/``serial``/``clock``/``unit``/``dump_header``/``record``/
    ``erased``), ``offset`` (byte offset of the line); per type ``version``; ``serial``;
    ``time`` (ISO, meter local, no zone) and ``weekday`` and ``set``; ``unit``; ``count``,
    ``serial``, ``unit``; for records ``time``, ``weekday``, ``glucose_mgdl``, ``control``,
    ``parity_error``, ``meal``, ``comment``, ``comment_code``, ``hi``, ``lo``. A lone NUL
    (meter not ready) is reported as ``{"type": "not_ready"}``.
    """
    out: list[dict[str, object]] = []
    offset = 0
    while offset < len(data):
        if data[offset] in b"\r\n":
            offset += 1  # line ends between lines; offsets point at a line's first byte
            continue
        end = data.find(LINE_END, offset)
        chunk = data[offset:] if end < 0 else data[offset : end + 1]
        if not chunk.strip(b"\r\n\x00"):
            out.append({"type": "not_ready", "offset": offset})
            offset += len(chunk)
            continue
        try:
            out.append({**_decode_any_line(chunk), "offset": offset})
        except DecodeError as exc:
            raise DecodeError(exc.reason, data[offset : offset + len(chunk)],
                              offset + (exc.offset or 0)) from exc
        offset += len(chunk)
    return out


def _decode_any_line(line: bytes) -> dict[str, object]:
    body = split_line(line)
    if body.startswith("?"):
        return {"type": "version", "version": decode_version(line)}
    if body.startswith("@"):
        return {"type": "serial", "serial": decode_serial(line)}
    if body.startswith(("F ", "T ")):
        clock = decode_clock(line)
        return {"type": "clock", "time": clock.time.isoformat(), "weekday": clock.weekday,
                "set": clock.was_set}
    if body.startswith("SU?"):
        return {"type": "unit", "unit": decode_unit(line)}
    if body == "Z":
        return {"type": "erased"}
    if DUMP_HEADER.match(body):
        header = decode_dump_header(line)
        return {"type": "dump_header", "count": header.count, "serial": header.serial,
                "unit": header.unit}
    record = decode_record(line)
    return {
        "type": "record",
        "time": record.time.isoformat(),
        "weekday": record.weekday,
        "glucose_mgdl": record.value_mgdl,
        "control": record.control,
        "parity_error": record.parity_error,
        "meal": record.meal,
        "comment": COMMENTS.get(record.comment) if record.comment is not None else None,
        "comment_code": record.comment,
        "hi": record.hi,
        "lo": record.lo,
    }
