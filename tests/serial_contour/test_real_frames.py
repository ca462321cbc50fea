"""Contour transfers built from frames captured from real meters (golden bytes).

Sources (bytes copied as data, their checksums re-verified below):
* glucometerutils `test/test_bacontour.py` (commit 886eaf7, `test_integration`): a whole
  transfer read from a Bayer Contour USB (model 7390, serial 7390-2408612) by its author. The
  HID reports there are `ABC` + length + data; the frames below are the data joined, which is
  exactly what the meter's serial (FTDI) cable carries.
* glucometerutils `glucometerutils/drivers/tests/test_contourusb.py`: a header frame from a
  Contour USB (7390-2336773).
* Tidepool uploader `lib/drivers/bayer/bayerContourNext.js` (comment above parseDataRecord): a
  result frame from a Contour Next with the M0/T1 markers.

Every record travels in its own frame closed by ETB; only the L record's frame ends with ETX.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.reading import Glucose
from core.units import mmoll_to_mgdl
from drivers.serial import astm, contour
from drivers.serial.decode import contour as contour_stream
from simulators.serial.contour import ContourMeter, transfer_frames
from tests.serial_contour.support import run_session
from tests.support.sink import MemorySink

# --- glucometerutils test/test_bacontour.py, test_integration -------------------------------
REAL_HEADER_FRAME = (
    b"\x021H|\\^&||NIylNt|Bayer7390^01.26\\01.05\\08.02.20^7390-2408612^"
    b"7397-|A=1^C=62^G=0^I=0200^R=0^S=1^U=1^V=10600^X=070070070070"
    b"180130180250^Y=360126090050099050300089^Z=1|2000|||||P|1|201"
    b"708222058\r\x17AB\r\n"
)
REAL_PATIENT_FRAME = b"\x022P|1\r\x1753\r\n"
REAL_RESULT_FRAME = b"\x023R|1|^^^Glucose|10.9|mmol/L^P||A||201504171154\r\x17EC\r\n"
REAL_TERMINATOR_FRAME = b"\x024L|1||N\r\x0383\r\n"
REAL_FRAMES = [REAL_HEADER_FRAME, REAL_PATIENT_FRAME, REAL_RESULT_FRAME, REAL_TERMINATOR_FRAME]

# --- glucometerutils drivers/tests/test_contourusb.py ---------------------------------------
REAL_HEADER_FRAME_2 = (
    b"\x021H|\\^&||7w3LBL|Bayer7390^01.24\\01.04\\09.02.20^7390-2336773^7403-|A=1^C=63^G=1^"
    b"I=0200^R=0^S=1^U=0^V=10600^X=070070070070180130150250^Y=360126090050099050300089^Z=1|"
    b"1714||||||1|201909221304\r\x17D7\r\n"
)

# --- Tidepool lib/drivers/bayer/bayerContourNext.js -----------------------------------------
REAL_NEXT_RESULT_FRAME = b"\x025R|3|^^^Glucose|93|mg/dL^P||A/M0/T1||201505261150\r\x1774\r\n"

ENQ, ACK, EOT = bytes([astm.ENQ]), bytes([astm.ACK]), bytes([astm.EOT])

REAL_SETTINGS = {
    "A": "1",
    "C": "62",
    "G": "0",
    "I": "0200",
    "R": "0",
    "S": "1",
    "U": "1",
    "V": "10600",
    "X": "070070070070180130180250",
    "Y": "360126090050099050300089",
    "Z": "1",
}
REAL_HEADER_DICT: dict[str, object] = {
    "type": "header",
    "product_code": "Bayer7390",
    "versions": ["01.26", "01.05", "08.02.20"],
    "serial": "7390-2408612",
    "sku": "7397-",
    "unit": "mmol/L",
    "settings": REAL_SETTINGS,
    "record_count": 2000,
    "spec_version": "1",
    "processing_id": "P",
    "meter_time": "2017-08-22T20:58:00",
}
REAL_RESULT_DICT: dict[str, object] = {
    "type": "result",
    "sequence": 1,
    "test": "Glucose",
    "value": "10.9",
    "unit": "mmol/L",
    "method": "P",
    "markers": ["A"],
    "glucose_mgdl": mmoll_to_mgdl(10.9),
    "meal": "postprandial",
    "hi": False,
    "lo": False,
    "control": False,
    "taken_at": "2015-04-17T11:54:00",
}


def _as_captured(frames: list[bytes]) -> bytes:
    """The line as a sniffer sees it: bid, host ACK, each frame and its ACK, EOT."""
    return ENQ + ACK + b"".join(f + ACK for f in frames) + EOT


@pytest.mark.parametrize(
    "frame",
    [*REAL_FRAMES, REAL_HEADER_FRAME_2, REAL_NEXT_RESULT_FRAME],
    ids=["header", "patient", "result", "terminator", "header-2", "next-result"],
)
def test_real_frames_decode_with_their_checksums(frame: bytes) -> None:
    decoded = astm.decode_frame(frame)
    assert decoded.final == (frame is REAL_TERMINATOR_FRAME)
    assert decoded.text.endswith(b"\r")  # each record ends inside its own frame
    assert astm.encode_frame(decoded) == frame


def test_real_transfer_decodes_record_by_record() -> None:
    assert contour_stream.decode_stream(_as_captured(REAL_FRAMES)) == [
        REAL_HEADER_DICT,
        {"type": "patient", "sequence": 1, "fields": []},
        REAL_RESULT_DICT,
        {"type": "terminator", "sequence": 1, "code": "N"},
    ]


def test_receiver_ends_each_record_at_its_cr_not_at_etx() -> None:
    rx = astm.AstmReceiver()
    events = rx.feed(ENQ + b"".join(REAL_FRAMES) + EOT)
    records = [r for e in events if isinstance(e, astm.FrameAccepted) for r in e.records]
    assert records == [frame[2:-6] for frame in REAL_FRAMES]


def test_second_real_header_and_next_result_decode_whole() -> None:
    header = contour.decode_record(REAL_HEADER_FRAME_2[2:-6])
    assert isinstance(header, contour.HeaderRecord)
    assert (header.product_code, header.serial, header.sku, header.unit) == (
        "Bayer7390",
        "7390-2336773",
        "7403-",
        contour.MGDL,
    )
    assert (header.record_count, header.processing_id, header.spec_version) == (1714, "", "1")
    assert header.meter_time == datetime(2019, 9, 22, 13, 4)
    result = contour.decode_record(REAL_NEXT_RESULT_FRAME[2:-6])
    assert result == contour.ResultRecord(
        3, "Glucose", "93", contour.MGDL, "P", ("A", "M0", "T1"),
        datetime(2015, 5, 26, 11, 50),
    )


def _real_meter() -> ContourMeter:
    """The simulator set up as the meter of the glucometerutils capture."""
    identity = contour.decode_record(REAL_HEADER_FRAME[2:-6])
    assert isinstance(identity, contour.HeaderRecord)
    result = contour.decode_record(REAL_RESULT_FRAME[2:-6])
    assert isinstance(result, contour.ResultRecord)
    # 20:58 WITA on the meter's clock when it sent the header.
    clock = datetime(2017, 8, 22, 12, 58, tzinfo=UTC)
    return ContourMeter([result], identity=identity, clock=lambda: clock)


def test_simulator_sends_the_real_meters_bytes() -> None:
    meter = _real_meter()
    assert transfer_frames([contour.encode_record(r) for r in meter.records()]) == REAL_FRAMES


async def test_session_over_pty_reads_the_real_transfer() -> None:
    meter = _real_meter()
    sink = MemorySink()
    now = datetime(2017, 8, 22, 12, 58, 20, tzinfo=UTC)
    async with meter:
        ctx = await run_session(meter, "contour", sink, now=now)
    assert meter.transfers == 1
    [reading] = sink.readings.values()
    assert reading.device.serial == "7390-2408612"
    assert reading.device.model == "Bayer7390"
    assert reading.device_time == "2015-04-17T11:54:00"
    assert reading.values == Glucose(
        glucose_mgdl=mmoll_to_mgdl(10.9),
        original_unit=contour.MMOLL,
        original_value=10.9,
        sample_type="capillary_plasma",
        meal="postprandial",
        sensor_status=frozenset({"marker:A"}),
    )
    assert ctx.status.readings_total == 1


def test_long_record_continues_across_frames() -> None:
    # A result longer than one frame: its first part rides in an ETB frame without a CR.
    long = b"C|1|" + b"x" * 300
    frames = transfer_frames([b"H|\\^&", long, b"L|1||N"])
    texts = [astm.decode_frame(f) for f in frames]
    assert [(t.number, t.final, t.text.endswith(b"\r")) for t in texts] == [
        (1, False, True),
        (2, False, False),
        (3, False, True),
        (4, True, True),
    ]
    rx = astm.AstmReceiver()
    events = rx.feed(ENQ + b"".join(frames))
    assert [e.records for e in events if isinstance(e, astm.FrameAccepted)] == [
        (b"H|\\^&",),
        (),
        (long,),
        (b"L|1||N",),
    ]
