"""`gempita decode --protocol onetouch-ultraeasy`: a recorded meter->host stream -> one
JSON-ready dict per frame."""

from __future__ import annotations

from drivers.errors import DecodeError
from drivers.serial.onetouch_easy import (
    STX,
    Frame,
    decode_clock,
    decode_count,
    decode_frame_at,
    decode_record,
    decode_unit,
    decode_version,
    is_refusal,
    success_payload,
)


def decode_stream(data: bytes) -> list[dict[str, object]]:
    """Decode a recorded meter->host Ultra Easy stream, one dict per frame.

    Every dict has ``offset``, ``sequence``, ``expect``, ``ack``, ``disconnect``, ``more`` and
    ``type``: ``ack``/``disconnect`` for empty control frames, else what the message looks like:
    ``record`` (``time`` ISO meter-local, ``glucose_mgdl``, ``hi``, ``lo``), ``count``
    (``count``), ``clock`` (``time``), ``unit`` (``unit``), ``version`` (``version``),
    ``refused`` (``status``) or ``message`` (``hex``) when a success answer fits no known
    layout (serial numbers look like that too: ``text`` holds it as ASCII if printable).
    """
    out: list[dict[str, object]] = []
    offset = 0
    while offset < len(data):
        if data[offset] != STX:
            raise DecodeError("bytes outside a frame", data, offset)
        frame, used = decode_frame_at(data, offset)
        if frame is None:
            raise DecodeError("truncated frame at end of stream", data, offset)
        entry: dict[str, object] = {
            "offset": offset,
            "sequence": frame.link.sequence,
            "expect": frame.link.expect,
            "ack": frame.link.ack,
            "disconnect": frame.link.disconnect,
            "more": frame.link.more,
        }
        try:
            entry.update(_describe(frame))
        except DecodeError as exc:
            # The message starts 3 bytes into the frame (STX LEN LCB).
            at = offset + 3 + (exc.offset or 0)
            raise DecodeError(exc.reason, data[offset:used], at) from exc
        out.append(entry)
        offset = used
    return out


def _describe(frame: Frame) -> dict[str, object]:
    message = frame.message
    if not message:
        return {"type": "disconnect" if frame.link.disconnect else "ack"}
    try:
        return {"type": "count", "count": decode_count(message)}
    except DecodeError:
        pass
    if is_refusal(message):
        return {"type": "refused", "status": message[1]}
    payload = success_payload(message, "answer")
    if len(payload) == 8:
        record = decode_record(message)
        return {"type": "record", "time": record.time.isoformat(),
                "glucose_mgdl": record.value_mgdl, "hi": record.hi, "lo": record.lo}
    if len(payload) == 4 and payload[1:] != b"\x00\x00\x00":
        return {"type": "clock", "time": decode_clock(message).isoformat()}
    if len(payload) == 4:
        return {"type": "unit", "unit": decode_unit(message)}
    if payload and payload[0] == len(payload) - 1:
        return {"type": "version", "version": decode_version(message)}
    text = payload.decode("ascii", errors="replace")
    return {"type": "message", "hex": payload.hex(),
            "text": text.strip("\x00 ") if text.isprintable() else None}
