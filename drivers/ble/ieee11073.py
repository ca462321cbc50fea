"""IEEE-11073-20601 SFLOAT (16-bit) and FLOAT (32-bit) numbers, both directions.

Both types are `mantissa × 10^exponent` with two's-complement fields (PROTOCOLS.md §1.1–1.2;
beware public decoders that treat the exponent as biased). A handful of raw words with
exponent 0 are special values: NaN, NRes, ±INFINITY and one reserved word. A device uses them
to say "no MAP computed" or "glucose above the meter's range", so we keep *which* special it
was instead of collapsing everything to None.

`Numeric` keeps the mantissa and exponent as sent, so decode→encode gives the same bytes and a
value such as 10.1 is never re-derived from a binary float. `value` is the float for display
and arithmetic; `decimal` is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from drivers.errors import DecodeError, UsageError


class Special(StrEnum):
    NAN = "nan"
    NRES = "nres"
    POSITIVE_INFINITY = "+inf"
    NEGATIVE_INFINITY = "-inf"
    RFU = "rfu"


_SFLOAT_SPECIALS: dict[int, Special] = {
    0x07FF: Special.NAN,
    0x0800: Special.NRES,
    0x07FE: Special.POSITIVE_INFINITY,
    0x0802: Special.NEGATIVE_INFINITY,
    0x0801: Special.RFU,
}
_SFLOAT_RAW: dict[Special, int] = {v: k for k, v in _SFLOAT_SPECIALS.items()}

_FLOAT_SPECIALS: dict[int, Special] = {
    0x007FFFFF: Special.NAN,
    0x00800000: Special.NRES,
    0x007FFFFE: Special.POSITIVE_INFINITY,
    0x00800002: Special.NEGATIVE_INFINITY,
    0x00800001: Special.RFU,
}
_FLOAT_RAW: dict[Special, int] = {v: k for k, v in _FLOAT_SPECIALS.items()}

# With exponent 0 the top two and bottom three mantissas collide with the specials.
SFLOAT_MANTISSA_MAX = 0x07FD
SFLOAT_EXPONENT_RANGE = range(-8, 8)
FLOAT_MANTISSA_MAX = 0x7FFFFD
FLOAT_EXPONENT_RANGE = range(-128, 128)


@dataclass(frozen=True, slots=True)
class Numeric:
    """One IEEE-11073 number: either `mantissa × 10^exponent` or a special value."""

    mantissa: int = 0
    exponent: int = 0
    special: Special | None = None

    @property
    def value(self) -> float | None:
        """The number as a float, None for every special (see `special` for which)."""
        if self.special is not None:
            return None
        scale: int = 10 ** abs(self.exponent)
        if self.exponent >= 0:
            return float(self.mantissa * scale)
        # int / int is correctly rounded, so 101e-1 gives exactly the float nearest 10.1.
        return self.mantissa / scale

    @property
    def decimal(self) -> Decimal | None:
        if self.special is not None:
            return None
        return Decimal(self.mantissa).scaleb(self.exponent)

    @property
    def is_finite(self) -> bool:
        return self.special is None

    @classmethod
    def of_special(cls, special: Special) -> Numeric:
        return cls(0, 0, special)

    @classmethod
    def from_value(
        cls, value: float | int | str | Decimal, *, mantissa_max: int = SFLOAT_MANTISSA_MAX
    ) -> Numeric:
        """The shortest exact `mantissa × 10^exponent` for a value, rounding when it must.

        `str` or `Decimal` input avoids binary-float surprises ("10.1", not 10.1). Values whose
        mantissa does not fit are rounded to fewer digits (half-even); the encoder then checks
        the exponent range.
        """
        try:
            number = Decimal(str(value)) if not isinstance(value, Decimal) else value
        except InvalidOperation as exc:
            raise UsageError(f"not a number: {value!r}") from exc
        if not number.is_finite():
            raise UsageError(f"use Numeric.of_special for {value!r}")
        if number.is_zero():
            return cls(0, 0)
        sign, digits, exponent = number.normalize().as_tuple()
        if not isinstance(exponent, int):  # pragma: no cover - finite checked above
            raise UsageError(f"not a finite number: {value!r}")
        mantissa = int("".join(map(str, digits)))
        # Devices send 120 mmHg as 120e0, not 12e1: undo normalize()'s trailing-zero folding.
        while exponent > 0 and mantissa * 10 <= mantissa_max:
            mantissa, exponent = mantissa * 10, exponent - 1
        while mantissa > mantissa_max:
            # Round away one digit at a time; ties to even like Decimal's default.
            quotient, remainder = divmod(mantissa, 10)
            if remainder > 5 or (remainder == 5 and quotient % 2 == 1):
                quotient += 1
            mantissa, exponent = quotient, exponent + 1
        return cls(-mantissa if sign else mantissa, exponent)


NAN = Numeric(special=Special.NAN)
NRES = Numeric(special=Special.NRES)
POSITIVE_INFINITY = Numeric(special=Special.POSITIVE_INFINITY)
NEGATIVE_INFINITY = Numeric(special=Special.NEGATIVE_INFINITY)


def _sign_extend(raw: int, bits: int) -> int:
    sign_bit = 1 << (bits - 1)
    return (raw & (sign_bit - 1)) - (raw & sign_bit)


def sfloat_from_raw(raw: int) -> Numeric:
    special = _SFLOAT_SPECIALS.get(raw)
    if special is not None:
        return Numeric.of_special(special)
    return Numeric(_sign_extend(raw & 0x0FFF, 12), _sign_extend(raw >> 12, 4))


def sfloat_to_raw(number: Numeric) -> int:
    if number.special is not None:
        return _SFLOAT_RAW[number.special]
    if number.exponent not in SFLOAT_EXPONENT_RANGE:
        raise UsageError(f"SFLOAT exponent {number.exponent} outside -8..7")
    # Exponent 0 would collide with the special words at the mantissa extremes.
    limit = SFLOAT_MANTISSA_MAX if number.exponent == 0 else 0x07FF
    low = -SFLOAT_MANTISSA_MAX if number.exponent == 0 else -0x0800
    if not low <= number.mantissa <= limit:
        raise UsageError(f"SFLOAT mantissa {number.mantissa} outside {low}..{limit}")
    return ((number.exponent & 0x0F) << 12) | (number.mantissa & 0x0FFF)


def decode_sfloat(data: bytes, offset: int = 0, *, big_endian: bool = False) -> Numeric:
    """The SFLOAT at `offset` (little-endian on air unless a quirk says otherwise)."""
    chunk = bytes(data[offset : offset + 2])
    if len(chunk) < 2:
        raise DecodeError("SFLOAT needs 2 bytes", data, offset)
    return sfloat_from_raw(int.from_bytes(chunk, "big" if big_endian else "little"))


def encode_sfloat(number: Numeric, *, big_endian: bool = False) -> bytes:
    return sfloat_to_raw(number).to_bytes(2, "big" if big_endian else "little")


def float_from_raw(raw: int) -> Numeric:
    special = _FLOAT_SPECIALS.get(raw)
    if special is not None:
        return Numeric.of_special(special)
    return Numeric(_sign_extend(raw & 0xFFFFFF, 24), _sign_extend(raw >> 24, 8))


def float_to_raw(number: Numeric) -> int:
    if number.special is not None:
        return _FLOAT_RAW[number.special]
    if number.exponent not in FLOAT_EXPONENT_RANGE:
        raise UsageError(f"FLOAT exponent {number.exponent} outside -128..127")
    limit = FLOAT_MANTISSA_MAX if number.exponent == 0 else 0x7FFFFF
    low = -FLOAT_MANTISSA_MAX if number.exponent == 0 else -0x800000
    if not low <= number.mantissa <= limit:
        raise UsageError(f"FLOAT mantissa {number.mantissa} outside {low}..{limit}")
    return ((number.exponent & 0xFF) << 24) | (number.mantissa & 0xFFFFFF)


def decode_float(data: bytes, offset: int = 0) -> Numeric:
    chunk = bytes(data[offset : offset + 4])
    if len(chunk) < 4:
        raise DecodeError("FLOAT needs 4 bytes", data, offset)
    return float_from_raw(int.from_bytes(chunk, "little"))


def encode_float(number: Numeric) -> bytes:
    return float_to_raw(number).to_bytes(4, "little")


def sfloat(value: float | int | str | Decimal) -> Numeric:
    """Shorthand for simulators and tests: a Numeric that fits an SFLOAT."""
    return Numeric.from_value(value, mantissa_max=SFLOAT_MANTISSA_MAX)
