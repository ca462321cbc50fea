"""LifeScan OneTouch Ultra Easy / Ultra Mini: binary frames (9600 8N1). Pure codec.

Frame: ``STX(02) LEN LCB MESSAGE ETX(03) CRC16-LE``; LEN counts the whole frame (message + 6);
the CRC (`checksums.crc_ccitt`, seed 0xFFFF) covers STX..ETX.

Link-control byte: bit 4 MORE, bit 3 DISC, bit 2 ACK, bit 1 E (expected-receive), bit 0 S
(send sequence). A data frame is answered by an empty frame with ACK set; the session starts and
ends with an empty DISC frame (``02 06 08 03 C2 62``), which resets both sequence bits.

Messages (prefix 0x05; answers ``05 06`` = success, anything else is a refusal):

==========================================  =============================================
request                                     answer
==========================================  =============================================
``05 0D 02`` version                        ``05 06`` + Pascal string (length byte, ASCII)
``05 0B 02 00 00 00 00 84 6A E8 73 00``     ``05 06`` + ASCII serial
``05 20 02 00 00 00 00`` read clock         ``05 06`` + u32 LE meter-local seconds since 1970
``05 20 01 <u32 LE>`` set clock             the same, with the new time
``05 09 02 09 00 00 00 00`` unit            ``05 06 <0 mg/dL | 1 mmol/L> 00 00 00``
``05 1F <u16 LE index>`` read record        ``05 06 <u32 time> <u32 value mg/dL>``
``05 1F F5 01`` (index 501) record count    ``0F <u16 count>`` (some captures: ``05 0F``...)
``05 1A`` erase                             ``05 06``
==========================================  =============================================

Unverified and therefore decoded leniently: the count answer is accepted with or without the
``05`` prefix (the public drivers disagree); serials are stripped of NULs and padding; the
version string may be shorter than its length byte claims.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timedelta

from drivers.errors import DecodeError, UsageError
from drivers.serial.checksums import crc_ccitt

STX = 0x02
ETX = 0x03
OVERHEAD = 6  # STX LEN LCB ... ETX CRC CRC
MAX_FRAME = 0xFF

PREFIX = 0x05
SUCCESS = 0x06
COUNT_TAG = 0x0F
COUNT_RECORD = 501
MAX_RECORDS = 500  # the Ultra Easy / Mini memory holds 500 tests

_MORE = 0x10
_DISC = 0x08
_ACK = 0x04
_EXPECT = 0x02
_SEQUENCE = 0x01
_KNOWN_BITS = _MORE | _DISC | _ACK | _EXPECT | _SEQUENCE

_EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001 - meter-local seconds: a naive wall clock
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")

UNIT_MGDL = "mg/dL"
UNIT_MMOLL = "mmol/L"
_UNITS = {0: UNIT_MGDL, 1: UNIT_MMOLL}
_UNIT_CODES = {v: k for k, v in _UNITS.items()}

# Tidepool sends these bytes after 05 0B 02; glucometerutils sends zeros. Both are accepted.
SERIAL_REQUEST_TAIL = bytes.fromhex("00 00 00 00 84 6a e8 73 00")


@dataclass(frozen=True, slots=True)
class LinkControl:
    sequence: bool = False  # S
    expect: bool = False  # E
    ack: bool = False
    disconnect: bool = False
    more: bool = False

    def to_byte(self) -> int:
        return (
            (_SEQUENCE if self.sequence else 0)
            | (_EXPECT if self.expect else 0)
            | (_ACK if self.ack else 0)
            | (_DISC if self.disconnect else 0)
            | (_MORE if self.more else 0)
        )

    @classmethod
    def from_byte(cls, value: int) -> LinkControl:
        return cls(
            sequence=bool(value & _SEQUENCE),
            expect=bool(value & _EXPECT),
            ack=bool(value & _ACK),
            disconnect=bool(value & _DISC),
            more=bool(value & _MORE),
        )


@dataclass(frozen=True, slots=True)
class Frame:
    link: LinkControl
    message: bytes = b""


DISCONNECT = Frame(LinkControl(disconnect=True))


def encode_frame(frame: Frame) -> bytes:
    length = len(frame.message) + OVERHEAD
    if length > MAX_FRAME:
        raise UsageError("an Ultra Easy frame holds at most 249 message bytes")
    body = bytes([STX, length, frame.link.to_byte()]) + frame.message + bytes([ETX])
    return body + _U16.pack(crc_ccitt(body))


def decode_frame(data: bytes) -> Frame:
    """Exactly one frame (no leading or trailing bytes)."""
    frame, used = decode_frame_at(data, 0)
    if frame is None:
        raise DecodeError("incomplete frame", data, len(data))
    if used != len(data):
        raise DecodeError("bytes after the frame", data, used)
    return frame


@dataclass(frozen=True, slots=True)
class Scan:
    """What `find_frame` found at the start of a receive buffer."""

    frame: Frame | None  # None: no complete frame yet
    used: int  # bytes the caller should drop (noise, bad frames, the frame itself)
    noise: bytes = b""  # bytes outside any frame that were skipped
    error: DecodeError | None = None  # the first frame that started with STX but was bad


def find_frame(buffer: bytes) -> Scan:
    """Stream framing with resync on the start byte.

    Bytes before an STX are noise. A frame whose LEN, ETX, link-control or CRC is wrong is
    dropped from its STX on and the search resumes at the next STX, so a garbled frame costs
    only itself. A session should treat `Scan.error` as a failed answer (retry) and may ignore
    `Scan.noise`.
    """
    noise = bytearray()
    error: DecodeError | None = None
    pos = 0
    while True:
        stx = buffer.find(bytes([STX]), pos)
        if stx < 0:
            noise.extend(buffer[pos:])
            return Scan(None, len(buffer), bytes(noise), error)
        noise.extend(buffer[pos:stx])
        try:
            frame, used = decode_frame_at(buffer, stx)
        except DecodeError as exc:
            error = error or exc
            pos = stx + 1
            continue
        if frame is None:
            return Scan(None, stx, bytes(noise), error)
        return Scan(frame, used, bytes(noise), error)


def decode_frame_at(data: bytes, start: int) -> tuple[Frame | None, int]:
    if len(data) - start < 2:
        return None, start
    if data[start] != STX:
        raise DecodeError("frame does not start with STX", data, start)
    length = data[start + 1]
    if length < OVERHEAD:
        raise DecodeError(f"frame length {length} < {OVERHEAD}", data, start + 1)
    end = start + length
    if len(data) < end:
        return None, start
    if data[end - 3] != ETX:
        raise DecodeError("no ETX where the length says", data, end - 3)
    lcb = data[start + 2]
    if lcb & ~_KNOWN_BITS:
        raise DecodeError(f"unknown link-control bits {lcb:#04x}", data, start + 2)
    (given,) = _U16.unpack_from(data, end - 2)
    computed = crc_ccitt(data[start : end - 2])
    if given != computed:
        raise DecodeError(f"CRC {given:04x} != computed {computed:04x}", data, end - 2)
    return Frame(LinkControl.from_byte(lcb), bytes(data[start + 3 : end - 3])), end


# -- requests (host -> meter) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadVersion:
    pass


@dataclass(frozen=True, slots=True)
class ReadSerial:
    pass


@dataclass(frozen=True, slots=True)
class ReadClock:
    pass


@dataclass(frozen=True, slots=True)
class SetClock:
    time: datetime  # naive meter-local


@dataclass(frozen=True, slots=True)
class ReadUnit:
    pass


@dataclass(frozen=True, slots=True)
class ReadRecord:
    index: int  # 0 = newest (unverified); COUNT_RECORD asks for the count


@dataclass(frozen=True, slots=True)
class Erase:
    pass


Request = ReadVersion | ReadSerial | ReadClock | SetClock | ReadUnit | ReadRecord | Erase


def encode_request(request: Request) -> bytes:
    """The message bytes of a request (put them in a `Frame`)."""
    match request:
        case ReadVersion():
            return bytes([PREFIX, 0x0D, 0x02])
        case ReadSerial():
            return bytes([PREFIX, 0x0B, 0x02]) + SERIAL_REQUEST_TAIL
        case ReadClock():
            return bytes([PREFIX, 0x20, 0x02, 0, 0, 0, 0])
        case SetClock(time=moment):
            return bytes([PREFIX, 0x20, 0x01]) + _U32.pack(_seconds(moment))
        case ReadUnit():
            return bytes([PREFIX, 0x09, 0x02, 0x09, 0, 0, 0, 0])
        case ReadRecord(index=index):
            if not 0 <= index <= 0xFFFF:
                raise UsageError("record index is a u16")
            return bytes([PREFIX, 0x1F]) + _U16.pack(index)
        case Erase():
            return bytes([PREFIX, 0x1A])


def decode_request(message: bytes) -> Request:
    """Meter side (the simulator): which request is this message?"""
    if len(message) < 2 or message[0] != PREFIX:
        raise DecodeError("request without the 0x05 prefix", message, 0)
    command = message[1]
    args = message[2:]
    if command == 0x0D and args[:1] == b"\x02":
        return ReadVersion()
    if command == 0x0B and args[:1] == b"\x02":
        return ReadSerial()
    if command == 0x20 and len(args) == 5 and args[0] == 0x02:
        return ReadClock()
    if command == 0x20 and len(args) == 5 and args[0] == 0x01:
        return SetClock(_from_seconds(_U32.unpack_from(args, 1)[0], message))
    if command == 0x09 and args[:2] == b"\x02\x09":
        return ReadUnit()
    if command == 0x1F and len(args) == 2:
        return ReadRecord(_U16.unpack(args)[0])
    if command == 0x1A and not args:
        return Erase()
    raise DecodeError(f"unknown request {command:#04x}", message, 1)


# -- answers (meter -> host) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    time: datetime  # naive meter-local
    value_mgdl: int

    @property
    def lo(self) -> bool:
        return self.value_mgdl < 20  # the meter range is 20..600 mg/dL

    @property
    def hi(self) -> bool:
        return self.value_mgdl > 600


def success_payload(message: bytes, what: str) -> bytes:
    if len(message) < 2 or message[0] != PREFIX:
        raise DecodeError(f"{what} answer without the 0x05 prefix", message, 0)
    if message[1] != SUCCESS:
        raise DecodeError(f"meter refused {what} (status {message[1]:#04x})", message, 1)
    return message[2:]


def is_refusal(message: bytes) -> bool:
    return len(message) >= 2 and message[0] == PREFIX and message[1] not in (SUCCESS, COUNT_TAG)


def decode_version(message: bytes) -> str:
    payload = success_payload(message, "version")
    if not payload:
        raise DecodeError("version answer without a string", message, 2)
    text = payload[1 : 1 + payload[0]]
    return _ascii(text, message, 3)


def encode_version(version: str) -> bytes:
    raw = version.encode("ascii")
    if len(raw) > 0xFF:
        raise UsageError("version strings are at most 255 bytes")
    return bytes([PREFIX, SUCCESS, len(raw)]) + raw


def decode_serial(message: bytes) -> str:
    payload = success_payload(message, "serial")
    serial = _ascii(payload, message, 2).strip("\x00 ")
    if not serial:
        raise DecodeError("empty serial number", message, 2)
    return serial


def encode_serial(serial: str) -> bytes:
    return bytes([PREFIX, SUCCESS]) + serial.encode("ascii")


def decode_clock(message: bytes) -> datetime:
    payload = success_payload(message, "clock")
    if len(payload) != 4:
        raise DecodeError("clock answer is not 4 bytes", message, 2)
    return _from_seconds(_U32.unpack(payload)[0], message)


def encode_clock(moment: datetime) -> bytes:
    return bytes([PREFIX, SUCCESS]) + _U32.pack(_seconds(moment))


def decode_unit(message: bytes) -> str:
    payload = success_payload(message, "unit")
    if len(payload) < 1 or payload[0] not in _UNITS:
        raise DecodeError("unknown glucose unit", message, 2)
    return _UNITS[payload[0]]


def encode_unit(unit: str) -> bytes:
    try:
        code = _UNIT_CODES[unit]
    except KeyError:
        raise UsageError(f"unit must be {UNIT_MGDL!r} or {UNIT_MMOLL!r}") from None
    return bytes([PREFIX, SUCCESS, code, 0, 0, 0])


def decode_count(message: bytes) -> int:
    body = message[1:] if message[:1] == bytes([PREFIX]) else message
    if len(body) != 3 or body[0] != COUNT_TAG:
        raise DecodeError("not a record-count answer (0F <u16>)", message, 0)
    (count,) = _U16.unpack_from(body, 1)
    return int(count)


def encode_count(count: int, *, with_prefix: bool = False) -> bytes:
    if not 0 <= count <= 0xFFFF:
        raise UsageError("record count is a u16")
    return (bytes([PREFIX]) if with_prefix else b"") + bytes([COUNT_TAG]) + _U16.pack(count)


def decode_record(message: bytes) -> Record:
    payload = success_payload(message, "record")
    if len(payload) != 8:
        raise DecodeError("record answer is not 8 bytes", message, 2)
    seconds, value = struct.unpack("<II", payload)
    return Record(_from_seconds(seconds, message), int(value))


def encode_record(record: Record) -> bytes:
    if not 0 <= record.value_mgdl <= 0xFFFFFFFF:
        raise UsageError("record value is a u32")
    return bytes([PREFIX, SUCCESS]) + _U32.pack(_seconds(record.time)) + _U32.pack(
        record.value_mgdl
    )


def encode_success() -> bytes:
    return bytes([PREFIX, SUCCESS])


def encode_refusal(status: int = 0x09) -> bytes:
    return bytes([PREFIX, status])


def decode_erased(message: bytes) -> None:
    if success_payload(message, "erase"):
        raise DecodeError("erase answer carries data", message, 2)


# -- helpers ----------------------------------------------------------------------------------


def _seconds(moment: datetime) -> int:
    if moment.tzinfo is not None:
        raise UsageError("Ultra Easy times are naive meter-local times")
    seconds = int((moment - _EPOCH).total_seconds())
    if not 0 <= seconds <= 0xFFFFFFFF:
        raise UsageError("time outside the meter's u32 seconds range")
    return seconds


def _from_seconds(seconds: int, message: bytes) -> datetime:
    try:
        return _EPOCH + timedelta(seconds=seconds)
    except OverflowError as exc:
        raise DecodeError("time out of range", message, 2) from exc


def _ascii(raw: bytes, message: bytes, offset: int) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DecodeError("text is not ASCII", message, offset + exc.start) from exc
