"""`gempita decode --protocol taidoc|taidoc_bp`: back-to-back frames -> JSON-ready dicts."""

from __future__ import annotations

from drivers.errors import DecodeError
from drivers.serial.taidoc import (
    FRAME_LEN,
    TO_METER,
    Command,
    Frame,
    decode_bp,
    decode_count,
    decode_datetime,
    decode_frame,
    decode_glucose,
    decode_model,
    decode_record_index,
    decode_serial_part,
)


def _describe(frame: Frame, *, blood_pressure: bool) -> dict[str, object]:
    try:
        name = Command(frame.command).name.lower()
    except ValueError:
        name = f"0x{frame.command:02x}"
    out: dict[str, object] = {
        "direction": "to_meter" if frame.direction == TO_METER else "from_meter",
        "command": name,
        "payload": frame.payload.hex(),
    }
    cmd = frame.command
    if frame.direction == TO_METER:
        if cmd in (Command.RECORD_TIME, Command.RECORD_VALUE):
            out["index"] = decode_record_index(frame.payload)
        elif cmd == Command.SET_CLOCK:
            out["time"] = decode_datetime(frame.payload).isoformat()
        return out
    if cmd in (Command.CLOCK, Command.SET_CLOCK, Command.RECORD_TIME):
        out["time"] = decode_datetime(frame.payload).isoformat()
    elif cmd == Command.MODEL:
        out["model"] = decode_model(frame.payload)
    elif cmd == Command.RECORD_COUNT:
        out["count"] = decode_count(frame.payload)
    elif cmd in (Command.SERIAL_1, Command.SERIAL_2):
        out["serial_part"] = decode_serial_part(frame.payload)
    elif cmd == Command.RECORD_VALUE and blood_pressure:
        bp = decode_bp(frame.payload)
        out.update(systolic=bp.systolic, diastolic=bp.diastolic, pulse=bp.pulse)
    elif cmd == Command.RECORD_VALUE:
        glucose = decode_glucose(frame.payload)
        out.update(
            glucose_mgdl=glucose.mgdl, meal=glucose.meal, hi=glucose.hi, lo=glucose.lo
        )
    return out


def _decode_frames(data: bytes, *, blood_pressure: bool) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for offset in range(0, len(data), FRAME_LEN):
        chunk = data[offset : offset + FRAME_LEN]
        try:
            out.append(_describe(decode_frame(chunk), blood_pressure=blood_pressure))
        except DecodeError as exc:
            raise DecodeError(exc.reason, chunk, offset) from exc
    return out


def decode_stream(data: bytes) -> list[dict[str, object]]:
    """Decode back-to-back frames (either direction) of a TaiDoc glucose meter."""
    return _decode_frames(data, blood_pressure=False)


def decode_stream_bp(data: bytes) -> list[dict[str, object]]:
    """Decode back-to-back frames (either direction) of a TaiDoc/FORA BP monitor."""
    return _decode_frames(data, blood_pressure=True)
