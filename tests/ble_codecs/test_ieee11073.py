from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ble.ieee11073 import (
    NAN,
    Numeric,
    Special,
    decode_float,
    decode_sfloat,
    encode_float,
    encode_sfloat,
    sfloat,
)
from drivers.errors import DecodeError, UsageError

from .strategies import attempt, sfloats


@pytest.mark.parametrize(
    ("wire", "expected", "value"),
    [
        ("78 00", Numeric(120, 0), 120.0),
        ("80 00", Numeric(128, 0), 128.0),
        ("65 f0", Numeric(101, -1), 10.1),
        ("b0 f0", Numeric(176, -1), 17.6),
        ("f1 ff", Numeric(-15, -1), -1.5),
        ("62 b0", Numeric(98, -5), 0.00098),
        ("37 c0", Numeric(55, -4), 0.0055),
        ("00 00", Numeric(0, 0), 0.0),
        ("ff 0f", Numeric(-1, 0), -1.0),  # exponent 0, mantissa 0xFFF = -1
        ("01 20", Numeric(1, 2), 100.0),
        ("ff 17", Numeric(2047, 1), 20470.0),  # 0x7FF is only NaN with exponent 0
        ("00 88", Numeric(-2048, -8), -2048e-8),
        ("fd 07", Numeric(2045, 0), 2045.0),
        ("03 08", Numeric(-2045, 0), -2045.0),
    ],
)
def test_sfloat_golden(wire: str, expected: Numeric, value: float) -> None:
    decoded = decode_sfloat(bytes.fromhex(wire))
    assert decoded == expected
    assert decoded.value == value
    assert decoded.special is None
    assert encode_sfloat(decoded) == bytes.fromhex(wire)


@pytest.mark.parametrize(
    ("wire", "special"),
    [
        ("ff 07", Special.NAN),
        ("00 08", Special.NRES),
        ("fe 07", Special.POSITIVE_INFINITY),
        ("02 08", Special.NEGATIVE_INFINITY),
        ("01 08", Special.RFU),
    ],
)
def test_sfloat_specials_keep_the_reason(wire: str, special: Special) -> None:
    decoded = decode_sfloat(bytes.fromhex(wire))
    assert decoded == Numeric(0, 0, special)
    assert decoded.value is None
    assert decoded.decimal is None
    assert not decoded.is_finite
    assert encode_sfloat(decoded) == bytes.fromhex(wire)


def test_sfloat_big_endian_for_quirks() -> None:
    assert decode_sfloat(bytes.fromhex("00 3f"), big_endian=True) == Numeric(63, 0)
    assert encode_sfloat(Numeric(63, 0), big_endian=True) == bytes.fromhex("00 3f")


def test_sfloat_at_offset_and_short() -> None:
    assert decode_sfloat(bytes.fromhex("aa 78 00"), 1) == Numeric(120, 0)
    with pytest.raises(DecodeError) as info:
        decode_sfloat(bytes.fromhex("aa 78"), 1)
    assert info.value.data == bytes.fromhex("aa 78")
    assert info.value.offset == 1


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("87 d6 12 fe", Numeric(1234567, -2)),
        ("01 00 00 00", Numeric(1, 0)),
        ("ff ff ff 00", Numeric(-1, 0)),
        ("ff ff 7f 01", Numeric(0x7FFFFF, 1)),
        ("ff ff 7f 00", Numeric(0, 0, Special.NAN)),
        ("00 00 80 00", Numeric(0, 0, Special.NRES)),
        ("fe ff 7f 00", Numeric(0, 0, Special.POSITIVE_INFINITY)),
        ("02 00 80 00", Numeric(0, 0, Special.NEGATIVE_INFINITY)),
        ("01 00 80 00", Numeric(0, 0, Special.RFU)),
    ],
)
def test_float_golden(wire: str, expected: Numeric) -> None:
    assert decode_float(bytes.fromhex(wire)) == expected
    assert encode_float(expected) == bytes.fromhex(wire)


def test_float_value_and_short() -> None:
    assert decode_float(bytes.fromhex("87 d6 12 fe")).value == 12345.67
    with pytest.raises(DecodeError):
        decode_float(b"\x00\x00\x00")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", Numeric(120, 0)),
        (120, Numeric(120, 0)),
        ("10.1", Numeric(101, -1)),
        (Decimal("0.00098"), Numeric(98, -5)),
        ("-1.5", Numeric(-15, -1)),
        ("0", Numeric(0, 0)),
        ("123456", Numeric(1235, 2)),  # rounded to 4 digits: half-even 1234.56 -> 1235
        ("2046", Numeric(205, 1)),  # 2046e0 would be +INF on the wire
        ("0.125", Numeric(125, -3)),
    ],
)
def test_from_value_picks_devices_spelling(value: object, expected: Numeric) -> None:
    assert sfloat(value) == expected  # type: ignore[arg-type]


def test_encoder_refuses_what_cannot_be_sent() -> None:
    with pytest.raises(UsageError):
        encode_sfloat(Numeric(2046, 0))  # would read back as +INF
    with pytest.raises(UsageError):
        encode_sfloat(Numeric(1, 8))
    with pytest.raises(UsageError):
        encode_sfloat(Numeric(2048, 1))
    with pytest.raises(UsageError):
        encode_float(Numeric(0x7FFFFE, 0))
    with pytest.raises(UsageError):
        sfloat("nan")
    with pytest.raises(UsageError):
        sfloat("abc")


def test_nan_constant() -> None:
    assert Numeric(0, 0, Special.NAN) == NAN


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(st.binary(max_size=3))
def test_sfloat_any_bytes(data: bytes) -> None:
    number = attempt(decode_sfloat, data)
    if isinstance(number, DecodeError):
        assert len(data) < 2
        assert number.data == data
    else:
        assert encode_sfloat(number) == data[:2]


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(st.binary(max_size=5))
def test_float_any_bytes(data: bytes) -> None:
    number = attempt(decode_float, data)
    if isinstance(number, DecodeError):
        assert len(data) < 4
    else:
        assert encode_float(number) == data[:4]


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(sfloats)
def test_sfloat_object_round_trip(number: Numeric) -> None:
    assert decode_sfloat(encode_sfloat(number)) == number


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-2000, max_value=2000)
)
def test_from_value_is_close(value: Decimal) -> None:
    number = sfloat(value)
    assert decode_sfloat(encode_sfloat(number)) == number
    decimal = number.decimal
    assert decimal is not None
    # A rounded mantissa keeps at least 205 units, so half a unit is under 0.25 % of the value.
    assert abs(decimal - value) <= abs(value) * Decimal("0.0025")
