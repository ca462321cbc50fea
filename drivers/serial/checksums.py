"""Checksums of the serial meter families, declared once.

Pure functions over bytes; codecs and simulators both call these, so a wrong checksum can only
be wrong in one place (and the golden vectors in the tests pin each of them).
"""

from __future__ import annotations

_CCITT_POLY = 0x1021


def lifescan_sum16(data: bytes) -> int:
    """OneTouch Ultra / Ultra 2 line checksum: 16-bit sum of all bytes before the checksum."""
    return sum(data) & 0xFFFF


def crc_ccitt(data: bytes, seed: int = 0xFFFF) -> int:
    """CRC-16 with polynomial 0x1021, MSB first, no reflection, no final XOR.

    With the 0xFFFF seed this is the variant the OneTouch Ultra Easy / Ultra Mini put after ETX
    (often called CRC-16/CCITT-FALSE); it is computed over STX..ETX inclusive.
    """
    crc = seed & 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _CCITT_POLY) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def astm_mod256(data: bytes) -> int:
    """ASTM E1381 frame checksum: sum of FN .. ETB/ETX inclusive, modulo 256."""
    return sum(data) & 0xFF


def astm_checksum_text(data: bytes) -> bytes:
    """The ASTM checksum as it travels: two uppercase hex characters."""
    return b"%02X" % astm_mod256(data)


def taidoc_sum8(data: bytes) -> int:
    """TaiDoc 8-byte frame checksum: sum of the first seven bytes, low byte."""
    return sum(data) & 0xFF
