"""ASTM E1381 framing: golden frames worked out by hand, receiver behaviour, properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import DecodeError, UsageError
from drivers.serial import astm
from simulators.serial.contour import transfer_frames

# "1L|1|N<CR><ETX>": 31+4C+7C+31+7C+4E+0D+03 = 0x204 -> checksum "04".
TERMINATOR_FRAME = b"\x021L|1|N\r\x0304\r\n"
# Intermediate frame "2AB" + ETB: 32+41+42+17 = 0xCC.
INTERMEDIATE_FRAME = b"\x022AB\x17CC\r\n"


def test_golden_final_frame_decodes_whole() -> None:
    assert astm.decode_frame(TERMINATOR_FRAME) == astm.Frame(1, b"L|1|N\r", final=True)


def test_golden_final_frame_encodes() -> None:
    assert astm.encode_frame(astm.Frame(1, b"L|1|N\r", final=True)) == TERMINATOR_FRAME


def test_golden_intermediate_frame() -> None:
    assert astm.decode_frame(INTERMEDIATE_FRAME) == astm.Frame(2, b"AB", final=False)
    assert astm.encode_frame(astm.Frame(2, b"AB", final=False)) == INTERMEDIATE_FRAME


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x021L|1|N\r\x0305\r\n", "checksum mismatch: sent 05, computed 04"),
        (b"\x021L|1|N\r\x03zz\r\n", "checksum is not two hex digits"),
        (b"\x021L|1|N\r\x0304\n\n", "frame does not end with CR LF"),
        (b"\x029L|1|N\r\x0304\r\n", "frame number is not an ASCII digit 0..7"),
        (b"\x021L|1|N\r\x0404\r\n", "no ETX/ETB before the checksum"),
        (b"\x02\x03", "frame shorter than 7 bytes"),
    ],
)
def test_bad_frames_are_typed_errors(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        astm.decode_frame(data)
    assert info.value.reason == reason
    assert info.value.data == data


def test_lowercase_checksum_is_rejected() -> None:
    # 1A|<CR><ETX> = 31+41+7C+0D+03 = 0xFE: uppercase is the only legal spelling.
    assert astm.decode_frame(b"\x021A|\r\x03FE\r\n").text == b"A|\r"
    with pytest.raises(DecodeError, match="uppercase"):
        astm.decode_frame(b"\x021A|\r\x03fe\r\n")


def test_encode_refuses_bad_frames() -> None:
    with pytest.raises(UsageError):
        astm.encode_frame(astm.Frame(8, b"x", final=True))
    with pytest.raises(UsageError):
        astm.encode_frame(astm.Frame(1, b"x" * 241, final=True))
    with pytest.raises(UsageError):
        astm.encode_frame(astm.Frame(1, b"a\x02b", final=True))


def test_receiver_session_events_and_replies() -> None:
    rx = astm.AstmReceiver()
    stream = bytes([astm.ENQ]) + TERMINATOR_FRAME + bytes([astm.EOT])
    events = rx.feed(stream)
    assert events == [
        astm.Enquiry(),
        astm.FrameAccepted(astm.Frame(1, b"L|1|N\r", final=True), (b"L|1|N",)),
        astm.EndOfTransmission(),
    ]
    assert [astm.reply_for(e) for e in events] == [b"\x06", b"\x06", None]


def test_receiver_joins_intermediate_frames_and_numbers_wrap() -> None:
    record = b"R|1|" + b"x" * 600
    frames = transfer_frames([record], first_number=6)
    assert [f[1] for f in frames] == [ord("6"), ord("7"), ord("0")]
    assert [f[-5] for f in frames] == [astm.ETB, astm.ETB, astm.ETX]
    rx = astm.AstmReceiver()
    rx.feed(bytes([astm.ENQ]))
    # Skip numbers 1..5 with one-frame records so the long record starts at 6.
    for number in range(1, 6):
        rx.feed(astm.encode_frame(astm.Frame(number, b"C|1\r", final=False)))
    events = rx.feed(b"".join(frames))
    assert [type(e) for e in events] == [astm.FrameAccepted] * 3
    assert [e.records for e in events if isinstance(e, astm.FrameAccepted)] == [
        (), (), (record,)
    ]


def test_old_style_etx_per_record_still_reads() -> None:
    # Each record in a message of its own (ETX after every record) cuts at the CR just the same.
    rx = astm.AstmReceiver()
    frames = [astm.Frame(1, b"P|1\r", final=True), astm.Frame(2, b"L|1|N\r", final=True)]
    events = rx.feed(bytes([astm.ENQ]) + b"".join(astm.encode_frame(f) for f in frames))
    assert [e.records for e in events if isinstance(e, astm.FrameAccepted)] == [
        (b"P|1",), (b"L|1|N",)
    ]


def test_etx_ends_a_record_without_cr_and_etb_keeps_it_open() -> None:
    rx = astm.AstmReceiver()
    frames = [
        astm.Frame(1, b"R|1|ab", final=False),
        astm.Frame(2, b"cd\rL|1", final=False),
        astm.Frame(3, b"||N", final=True),
    ]
    events = rx.feed(bytes([astm.ENQ]) + b"".join(astm.encode_frame(f) for f in frames))
    assert [e.records for e in events if isinstance(e, astm.FrameAccepted)] == [
        (), (b"R|1|abcd",), (b"L|1||N",)
    ]


def test_a_new_bid_drops_half_a_record() -> None:
    rx = astm.AstmReceiver()
    rx.feed(bytes([astm.ENQ]) + astm.encode_frame(astm.Frame(1, b"R|1|ab", final=False)))
    events = rx.feed(bytes([astm.ENQ]) + astm.encode_frame(astm.Frame(1, b"P|1\r", final=False)))
    assert [e.records for e in events if isinstance(e, astm.FrameAccepted)] == [(b"P|1",)]


def test_receiver_ignores_retransmission_and_rejects_out_of_sequence() -> None:
    rx = astm.AstmReceiver()
    frame1 = astm.encode_frame(astm.Frame(1, b"P|1\r", final=True))
    frame3 = astm.encode_frame(astm.Frame(3, b"P|1\r", final=True))
    events = rx.feed(bytes([astm.ENQ]) + frame1 + frame1 + frame3)
    assert isinstance(events[1], astm.FrameAccepted)
    assert events[2] == astm.FrameRepeated(astm.Frame(1, b"P|1\r", final=True))
    rejected = events[3]
    assert isinstance(rejected, astm.FrameRejected)
    assert rejected.error.reason == "frame number 3, expected 2"
    assert astm.reply_for(rejected) == b"\x15"


def test_receiver_reports_noise_and_recovers() -> None:
    rx = astm.AstmReceiver()
    half = TERMINATOR_FRAME[:6]
    events = rx.feed(b"\x00\xfe" + bytes([astm.ENQ]) + half + TERMINATOR_FRAME)
    assert events[0] == astm.Noise(b"\x00\xfe")
    assert events[1] == astm.Enquiry()
    assert events[2] == astm.Noise(half)
    assert isinstance(events[3], astm.FrameAccepted)


def test_receiver_located_offsets_and_pending() -> None:
    rx = astm.AstmReceiver()
    located = rx.feed_located(bytes([astm.ENQ]) + TERMINATOR_FRAME + TERMINATOR_FRAME[:4])
    assert [offset for offset, _ in located] == [0, 1]
    assert rx.pending() == TERMINATOR_FRAME[:4]
    assert rx.drop_pending() == TERMINATOR_FRAME[:4]
    assert rx.pending() == b""


@given(st.binary(max_size=300))
def test_decode_frame_any_bytes(data: bytes) -> None:
    try:
        frame = astm.decode_frame(data)
    except DecodeError:
        return
    assert astm.encode_frame(frame) == data


@given(st.lists(st.binary(max_size=40), max_size=8))
def test_receiver_never_raises(chunks: list[bytes]) -> None:
    rx = astm.AstmReceiver()
    for chunk in chunks:
        for event in rx.feed(chunk):
            assert isinstance(
                event,
                astm.Enquiry
                | astm.EndOfTransmission
                | astm.FrameAccepted
                | astm.FrameRepeated
                | astm.FrameRejected
                | astm.Noise,
            )


_TEXT = st.binary(max_size=700).map(
    lambda b: bytes(c for c in b if c not in (0x02, 0x03, 0x04, 0x05, 0x06, 0x0A, 0x15, 0x17))
)


@given(st.lists(_TEXT.filter(bool), min_size=1, max_size=4), st.integers(0, 7))
def test_records_round_trip_through_frames(records: list[bytes], first: int) -> None:
    # Records never contain a CR (it ends them), and an empty one carries nothing.
    records = [r.replace(b"\r", b"") or b"X" for r in records]
    rx = astm.AstmReceiver()
    rx.feed(bytes([astm.ENQ]))
    # Align the receiver's expectation (1 after ENQ) with `first` by sending filler frames.
    number = 1
    while number != first:
        rx.feed(astm.encode_frame(astm.Frame(number, b"C|1\r", final=False)))
        number = (number + 1) % 8
    got: list[bytes] = []
    for event in rx.feed(b"".join(transfer_frames(records, number))):
        assert isinstance(event, astm.FrameAccepted)
        got += event.records
    assert got == records
