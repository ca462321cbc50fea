"""UART settings of a meter family (kept apart from `link` so codecs' users need no pyserial)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LineSettings:
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"  # pyserial's PARITY_NONE
    stopbits: float = 1
    rtscts: bool = False
    xonxoff: bool = False
