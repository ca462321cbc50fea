"""ASTM E1381 low-level link framing, as Bayer/Ascensia Contour meters speak it (sans-I/O).

A transfer is: the meter bids with ENQ, the host ACKs, the meter sends frames
`STX FN text (ETB|ETX) C1 C2 CR LF` and the host ACKs (or NAKs to get a resend) each one; EOT
ends the transfer. FN cycles through ASCII '0'..'7' and starts at '1' after the bid.

Records and frames are two different things. A record ends at its own CR, which travels inside
the frame text. ETB only says "more frames follow", ETX "this was the last frame of the
message". A real Contour sends each record (with its CR) in its own frame closed by ETB, and
closes only the last frame of the whole transfer (the L record) with ETX; a record longer than
one frame continues in the next frame's text until its CR. The receiver therefore cuts records
at CR, never at ETB/ETX. The last frame of a message may end without a CR: ETX still ends
that record.

The checksum is the sum of every byte from FN through ETB/ETX inclusive, mod 256, sent as two
uppercase hex characters. A frame that repeats the number of the last accepted frame is a
retransmission (our ACK was lost): it is acknowledged again and its content ignored.

`AstmReceiver` is the host side: feed it bytes, it returns events, and `reply_for(event)` says
which control byte the host owes the meter. `encode_frame` is the codec's encode side for
single frames; how a meter lays a transfer out in frames is the simulator's business
(`simulators.serial.contour`), pinned against frames captured from real meters.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import DecodeError, UsageError
from drivers.serial.checksums import astm_checksum_text, astm_mod256

STX = 0x02
ETX = 0x03
EOT = 0x04
ENQ = 0x05
ACK = 0x06
NAK = 0x15
ETB = 0x17
CR = 0x0D
LF = 0x0A

# E1381: at most 247 bytes per frame including the 7 framing bytes.
MAX_TEXT = 240
# A frame longer than this without a terminator is noise, not a frame still arriving.
_MAX_FRAME = MAX_TEXT + 16
_FIRST_FN = 1


@dataclass(frozen=True, slots=True)
class Frame:
    number: int  # 0..7
    text: bytes  # between FN and ETB/ETX; a record's CR is part of the text
    final: bool  # ETX (True: the message ends here) or ETB (False: more frames follow)


def encode_frame(frame: Frame) -> bytes:
    if not 0 <= frame.number <= 7:
        raise UsageError(f"frame number {frame.number} outside 0..7")
    if len(frame.text) > MAX_TEXT:
        raise UsageError(f"frame text of {len(frame.text)} bytes exceeds {MAX_TEXT}")
    if any(b in _CONTROL for b in frame.text):
        raise UsageError("frame text must not contain link control bytes")
    body = bytes([0x30 + frame.number]) + frame.text + bytes([ETX if frame.final else ETB])
    return bytes([STX]) + body + astm_checksum_text(body) + bytes([CR, LF])


_CONTROL = frozenset({STX, ETX, EOT, ENQ, ACK, NAK, ETB, LF})


def decode_frame(data: bytes) -> Frame:
    """Decode exactly one complete frame (STX .. CR LF); raise DecodeError otherwise."""
    if len(data) < 7:
        raise DecodeError("frame shorter than 7 bytes", data, 0)
    if data[0] != STX:
        raise DecodeError("frame does not start with STX", data, 0)
    if data[-2:] != bytes([CR, LF]):
        raise DecodeError("frame does not end with CR LF", data, len(data) - 2)
    end = data[-5]
    if end not in (ETX, ETB):
        raise DecodeError("no ETX/ETB before the checksum", data, len(data) - 5)
    fn = data[1]
    if not 0x30 <= fn <= 0x37:
        raise DecodeError("frame number is not an ASCII digit 0..7", data, 1)
    text = data[2:-5]
    if any(b in _CONTROL for b in text):
        raise DecodeError("control byte inside frame text", data, 2)
    body = data[1:-4]
    try:
        sent = int(data[-4:-2].decode("ascii"), 16)
    except ValueError as exc:
        raise DecodeError("checksum is not two hex digits", data, len(data) - 4) from exc
    if not all(0x30 <= c <= 0x39 or 0x41 <= c <= 0x46 for c in data[-4:-2]):
        raise DecodeError("checksum is not two uppercase hex digits", data, len(data) - 4)
    if sent != astm_mod256(body):
        raise DecodeError(
            f"checksum mismatch: sent {sent:02X}, computed {astm_mod256(body):02X}",
            data,
            len(data) - 4,
        )
    return Frame(number=fn - 0x30, text=text, final=end == ETX)


# --- host-side receiver events -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enquiry:
    """The meter bids for the line (ENQ)."""


@dataclass(frozen=True, slots=True)
class EndOfTransmission:
    """The meter ends the transfer (EOT)."""


@dataclass(frozen=True, slots=True)
class FrameAccepted:
    frame: Frame
    # Every record this frame completes, CR stripped, in order: usually one, none for a frame
    # that only carries the start or middle of a long record.
    records: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class FrameRepeated:
    """A retransmission of the last accepted frame: ACK again, ignore its content."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class FrameRejected:
    """A damaged or out-of-sequence frame: NAK it so the meter resends."""

    error: DecodeError


@dataclass(frozen=True, slots=True)
class Noise:
    """Bytes outside any frame (line noise, a half frame overtaken by a new STX)."""

    data: bytes


LinkEvent = Enquiry | EndOfTransmission | FrameAccepted | FrameRepeated | FrameRejected | Noise


def reply_for(event: LinkEvent) -> bytes | None:
    """The control byte the host owes the meter after an event (None: say nothing)."""
    if isinstance(event, Enquiry | FrameAccepted | FrameRepeated):
        return bytes([ACK])
    if isinstance(event, FrameRejected):
        return bytes([NAK])
    return None


class AstmReceiver:
    """Host side of an E1381 transfer: bytes in, link events out."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._expected = _FIRST_FN
        self._last: int | None = None
        self._partial = bytearray()  # text of the current record not yet ended by its CR
        self._consumed = 0  # stream offset of the first byte still in the buffer

    def feed(self, data: bytes) -> list[LinkEvent]:
        return [event for _, event in self.feed_located(data)]

    def feed_located(self, data: bytes) -> list[tuple[int, LinkEvent]]:
        """Like `feed`, with each event's start offset in the whole stream fed so far."""
        self._buffer += data
        events: list[tuple[int, LinkEvent]] = []
        while self._buffer:
            before = len(self._buffer)
            start = self._consumed
            event = self._next_event()
            if event is None:
                break
            self._consumed += before - len(self._buffer)
            events.append((start, event))
        return events

    def drop_pending(self) -> bytes:
        """Forget a frame cut short (the meter will resend it whole); returns what was dropped."""
        dropped = bytes(self._buffer)
        self._consumed += len(dropped)
        self._buffer.clear()
        return dropped

    def pending(self) -> bytes:
        """Bytes held back because they may be the start of an unfinished frame."""
        return bytes(self._buffer)

    def _next_event(self) -> LinkEvent | None:
        buf = self._buffer
        first = buf[0]
        if first == ENQ:
            del buf[:1]
            # A new bid restarts numbering and drops any half-assembled record.
            self._expected, self._last = _FIRST_FN, None
            self._partial.clear()
            return Enquiry()
        if first == EOT:
            del buf[:1]
            self._partial.clear()
            return EndOfTransmission()
        if first != STX:
            cut = _next_control(buf, 1)
            noise = bytes(buf[:cut])
            del buf[:cut]
            return Noise(noise)
        return self._take_frame()

    def _take_frame(self) -> LinkEvent | None:
        buf = self._buffer
        end = _find_terminator(buf)
        if end is None:
            restart = _next_start(buf, 1)
            if restart is not None:
                # A new frame or bid began before this one finished: the rest is noise.
                noise = bytes(buf[:restart])
                del buf[:restart]
                return Noise(noise)
            if len(buf) > _MAX_FRAME:
                noise = bytes(buf[:1])
                del buf[:1]
                return Noise(noise)
            return None
        raw = bytes(buf[: end + 1])
        del buf[: end + 1]
        try:
            frame = decode_frame(raw)
        except DecodeError as exc:
            return FrameRejected(exc)
        if frame.number == self._last:
            return FrameRepeated(frame)
        if frame.number != self._expected:
            return FrameRejected(
                DecodeError(
                    f"frame number {frame.number}, expected {self._expected}", raw, 1
                )
            )
        self._last = frame.number
        self._expected = (frame.number + 1) % 8
        self._partial += frame.text
        return FrameAccepted(frame, self._complete_records(final=frame.final))

    def _complete_records(self, *, final: bool) -> tuple[bytes, ...]:
        records: list[bytes] = []
        while (cut := self._partial.find(CR)) >= 0:
            if cut:  # an empty line between records carries nothing
                records.append(bytes(self._partial[:cut]))
            del self._partial[: cut + 1]
        if final and self._partial:
            # ETX ends the message, so it ends the record too, CR or not.
            records.append(bytes(self._partial))
            self._partial.clear()
        return tuple(records)


def _find_terminator(buf: bytearray) -> int | None:
    """Index of the LF that closes the frame starting at buf[0], if it has arrived."""
    for i in range(1, min(len(buf), _MAX_FRAME + 1)):
        b = buf[i]
        if b in (ETX, ETB):
            if len(buf) < i + 5:
                return None
            return i + 4
        if b in (STX, ENQ, EOT):
            return None
    return None


def _next_start(buf: bytearray, start: int) -> int | None:
    for i in range(start, len(buf)):
        if buf[i] in (STX, ENQ, EOT):
            return i
    return None


def _next_control(buf: bytearray, start: int) -> int:
    found = _next_start(buf, start)
    return len(buf) if found is None else found
