"""The other framed serial protocols against byte vectors published with glucometerutils.

Issue 10 item 1 found the Contour receiver and simulator agreeing on a wrong framing. These
pin the other families' codecs to bytes that neither our encoder nor our simulators wrote:
* glucometerutils `glucometerutils/drivers/tests/test_otultraeasy.py` (OneTouch Ultra Easy
  link frames, CRC-16/CCITT over STX..ETX),
* `.../test_td4277.py` (TaiDoc request frame and packed record date/time),
* `.../test_otultra2.py` (OneTouch Ultra 2 line checksum of a DMT line).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from drivers.serial import onetouch_easy as easy
from drivers.serial import onetouch_ultra2 as ultra2
from drivers.serial import taidoc

H = bytes.fromhex


def test_ultra_easy_link_frames() -> None:
    disc = H("02 06 08 03 c2 62")
    assert easy.encode_frame(easy.Frame(easy.LinkControl(disconnect=True))) == disc
    version = H("02 09 03 05 0d 02 03 08 9f")
    frame = easy.Frame(easy.LinkControl(sequence=True, expect=True), H("05 0d 02"))
    assert easy.decode_frame(version) == frame
    assert easy.encode_frame(frame) == version


def test_taidoc_request_frame() -> None:
    assert taidoc.request(0x22) == H("51 22 00 00 00 00 a3 16")


@pytest.mark.parametrize(
    ("payload", "moment"),
    [
        (b"\x21\x24\x0e\x15", datetime(2018, 1, 1, 21, 14)),
        (b"\x21\x26\x0e\x15", datetime(2019, 1, 1, 21, 14)),
        (b"\x04\x27\x25\x0d", datetime(2019, 8, 4, 13, 37)),
    ],
)
def test_taidoc_record_time(payload: bytes, moment: datetime) -> None:
    assert taidoc.decode_datetime(payload) == moment
    assert taidoc.encode_datetime(moment) == payload


def test_ultra2_line_checksum() -> None:
    line = ultra2.encode_line('T "SAT","08/03/13","22:12:00   "')
    assert line == b'T "SAT","08/03/13","22:12:00   " 0608\r\n'
