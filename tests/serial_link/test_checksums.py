from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drivers.serial.checksums import (
    astm_checksum_text,
    astm_mod256,
    crc_ccitt,
    lifescan_sum16,
    taidoc_sum8,
)


def test_crc_ccitt_vectors_from_the_protocol_notes() -> None:
    assert crc_ccitt(bytes.fromhex("02 06 06 03")) == 0x41CD
    assert crc_ccitt(bytes.fromhex("02 06 08 03")) == 0x62C2


def test_crc_ccitt_catalogue_check_value() -> None:
    # CRC-16/CCITT-FALSE ("123456789" -> 0x29B1), the variant with seed 0xFFFF.
    assert crc_ccitt(b"123456789") == 0x29B1


def test_lifescan_sum16_of_a_clock_line() -> None:
    assert lifescan_sum16(b'F "SAT","08/03/13","22:12:00   "') == 0x05FA


def test_lifescan_sum16_wraps_at_16_bits() -> None:
    assert lifescan_sum16(b"\xff" * 258) == (0xFF * 258) & 0xFFFF == 0x00FE


def test_astm_checksum_text() -> None:
    assert astm_mod256(b"1H|\\^&\r\x03") == 0xE5
    assert astm_checksum_text(b"1H|\\^&\r\x03") == b"E5"


def test_taidoc_sum8() -> None:
    assert taidoc_sum8(bytes([0x51, 0x24, 0, 0, 0, 0, 0xA3])) == 0x18


@given(st.binary(max_size=64))
def test_crc_ccitt_matches_an_independent_implementation(data: bytes) -> None:
    import binascii

    assert crc_ccitt(data) == binascii.crc_hqx(data, 0xFFFF)
