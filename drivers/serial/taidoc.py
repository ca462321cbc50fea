"""TaiDoc TD-42xx glucose meters and TaiDoc/FORA blood-pressure monitors: 8-byte frames.

Every frame, both ways, is `0x51 CMD M1 M2 M3 M4 DIR SUM`: DIR is 0xA3 host->meter and 0xA5
meter->host, SUM the low byte of the sum of the first seven bytes. The meter answers each
command with a frame carrying the same CMD (the connect command may be answered with 0x22,
0x24 or 0x54). Multi-byte numbers are little-endian.

Dates are a u16 (LE) packing year-2000 in the top 7 bits, month in the next 4, day in the
low 5; the two bytes after it are minute and hour. Record 0 is the newest.

Record values: a glucose meter sends u16 mg/dL, one byte of unknown meaning and a meal flag
(0x00 none, 0x40 before meal, 0x80 after meal). A BP monitor (TD-3128, FORA P30 PLUS) sends
M1 systolic, M3 diastolic, M4 pulse; M2 is unexplained and kept raw.

The serial-number commands 0x27/0x28 (four ASCII-ish bytes each, unverified) are used only if
the meter answers them; a meter that ignores them is read without a serial.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from drivers.errors import DecodeError, UsageError
from drivers.serial.checksums import taidoc_sum8

START = 0x51
TO_METER = 0xA3
FROM_METER = 0xA5
FRAME_LEN = 8


class Command(IntEnum):
    CONNECT = 0x22
    CLOCK = 0x23
    MODEL = 0x24
    RECORD_TIME = 0x25
    RECORD_VALUE = 0x26
    SERIAL_1 = 0x27
    SERIAL_2 = 0x28
    RECORD_COUNT = 0x2B
    SET_CLOCK = 0x33
    POWER_OFF = 0x50
    CLEAR = 0x52


CONNECT_REPLIES = frozenset({0x22, 0x24, 0x54})

MEAL_FLAGS = {0x00: None, 0x40: "preprandial", 0x80: "postprandial"}
# Display limits of TD-42xx meters (unverified as stored values): outside them the meter shows
# LO/HI and the stored number is only the limit.
LO_LIMIT_MGDL = 20
HI_LIMIT_MGDL = 600

_EMPTY = b"\x00\x00\x00\x00"


@dataclass(frozen=True, slots=True)
class Frame:
    command: int
    payload: bytes  # M1..M4
    direction: int  # TO_METER or FROM_METER


@dataclass(frozen=True, slots=True)
class GlucoseValue:
    mgdl: int
    meal: str | None
    unknown: int  # M3, meaning not published
    meal_byte: int

    @property
    def hi(self) -> bool:
        return self.mgdl > HI_LIMIT_MGDL

    @property
    def lo(self) -> bool:
        return self.mgdl < LO_LIMIT_MGDL


@dataclass(frozen=True, slots=True)
class BpValue:
    systolic: int
    diastolic: int
    pulse: int
    extra: int  # M2, meaning not published


def frame_sum(data: bytes) -> int:
    return taidoc_sum8(data[:7])


def encode_frame(frame: Frame) -> bytes:
    if len(frame.payload) != 4:
        raise UsageError("TaiDoc payload must be 4 bytes")
    if not 0 <= frame.command <= 0xFF or frame.direction not in (TO_METER, FROM_METER):
        raise UsageError("TaiDoc command must be a byte and direction 0xA3/0xA5")
    head = bytes([START, frame.command]) + frame.payload + bytes([frame.direction])
    return head + bytes([frame_sum(head)])


def decode_frame(data: bytes) -> Frame:
    if len(data) != FRAME_LEN:
        raise DecodeError(f"TaiDoc frame must be 8 bytes, got {len(data)}", data, 0)
    if data[0] != START:
        raise DecodeError("TaiDoc frame does not start with 0x51", data, 0)
    if data[6] not in (TO_METER, FROM_METER):
        raise DecodeError(f"direction byte 0x{data[6]:02X} is neither 0xA3 nor 0xA5", data, 6)
    if data[7] != frame_sum(data):
        raise DecodeError(
            f"checksum 0x{data[7]:02X}, computed 0x{frame_sum(data):02X}", data, 7
        )
    return Frame(command=data[1], payload=bytes(data[2:6]), direction=data[6])


def find_frame(buffer: bytes, direction: int = FROM_METER) -> tuple[Frame | None, int]:
    """Resynchronise on a byte stream: the first valid frame and how many bytes it used up.

    Returns (None, n) when no frame is complete yet; the first n bytes can then be dropped
    because no valid frame starts there.
    """
    start = 0
    while True:
        index = buffer.find(bytes([START]), start)
        if index < 0:
            return None, len(buffer)
        if len(buffer) - index < FRAME_LEN:
            return None, index
        candidate = buffer[index : index + FRAME_LEN]
        if candidate[6] == direction and candidate[7] == frame_sum(candidate):
            return decode_frame(candidate), index + FRAME_LEN
        start = index + 1


# --- requests (host -> meter) -------------------------------------------------------------


def request(command: int, payload: bytes = _EMPTY) -> bytes:
    return encode_frame(Frame(command, payload, TO_METER))


def record_request(command: int, index: int) -> bytes:
    if not 0 <= index <= 0xFFFF:
        raise UsageError(f"record index {index} outside 0..65535")
    return request(command, struct.pack("<HH", index, 0))


def set_clock_request(moment: datetime) -> bytes:
    return request(Command.SET_CLOCK, encode_datetime(moment))


# --- payload codecs (both sides) ------------------------------------------------------------


def encode_datetime(moment: datetime) -> bytes:
    if not 2000 <= moment.year <= 2127:
        raise UsageError(f"year {moment.year} cannot be packed (2000..2127)")
    word = ((moment.year - 2000) << 9) | (moment.month << 5) | moment.day
    return struct.pack("<HBB", word, moment.minute, moment.hour)


def decode_datetime(payload: bytes) -> datetime:
    word, minute, hour = struct.unpack("<HBB", _payload(payload))
    year = 2000 + (word >> 9)
    month = (word >> 5) & 0x0F
    day = word & 0x1F
    try:
        return datetime(year, month, day, hour, minute)  # noqa: DTZ001  meter-local wall time
    except ValueError as exc:
        raise DecodeError(
            f"invalid date {year}-{month}-{day} {hour}:{minute}", payload, 0
        ) from exc


def decode_model(payload: bytes) -> str:
    """The model number is BCD in a u16: 0x4277 -> "4277"."""
    (word,) = struct.unpack("<H", _payload(payload)[:2])
    text = f"{word:04X}"
    if not text.isdigit():
        raise DecodeError(f"model 0x{word:04X} is not BCD", payload, 0)
    return text


def encode_model(model: str) -> bytes:
    if len(model) != 4 or not model.isdigit():
        raise UsageError("TaiDoc model must be four digits")
    return struct.pack("<HH", int(model, 16), 0)


def decode_count(payload: bytes) -> int:
    count: int = struct.unpack("<HH", _payload(payload))[0]
    return count


def encode_count(count: int) -> bytes:
    return struct.pack("<HH", count, 0)


def decode_record_index(payload: bytes) -> int:
    index: int = struct.unpack("<HH", _payload(payload))[0]
    return index


def decode_serial_part(payload: bytes) -> str:
    """Half a serial number; the meter stores it byte-reversed (unverified)."""
    text = _payload(payload)[::-1]
    if not all(0x20 < b < 0x7F for b in text):
        raise DecodeError("serial number part is not printable ASCII", payload, 0)
    return text.decode("ascii")


def encode_serial_part(part: str) -> bytes:
    raw = part.encode("ascii")
    if len(raw) != 4:
        raise UsageError("TaiDoc serial parts are 4 characters")
    return raw[::-1]


def decode_glucose(payload: bytes) -> GlucoseValue:
    value, unknown, meal_byte = struct.unpack("<HBB", _payload(payload))
    if meal_byte not in MEAL_FLAGS:
        raise DecodeError(f"meal flag 0x{meal_byte:02X} is not 00/40/80", payload, 3)
    return GlucoseValue(
        mgdl=value, meal=MEAL_FLAGS[meal_byte], unknown=unknown, meal_byte=meal_byte
    )


def encode_glucose(value: GlucoseValue) -> bytes:
    return struct.pack("<HBB", value.mgdl, value.unknown, value.meal_byte)


def decode_bp(payload: bytes) -> BpValue:
    systolic, extra, diastolic, pulse = _payload(payload)
    if systolic == 0 or pulse == 0:
        raise DecodeError("blood-pressure record with zero systolic or pulse", payload, 0)
    return BpValue(systolic=systolic, diastolic=diastolic, pulse=pulse, extra=extra)


def encode_bp(value: BpValue) -> bytes:
    return bytes([value.systolic, value.extra, value.diastolic, value.pulse])


def _payload(payload: bytes) -> bytes:
    if len(payload) != 4:
        raise DecodeError(f"payload must be 4 bytes, got {len(payload)}", payload, 0)
    return payload
