from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ble.dis import (
    PnpId,
    SystemId,
    decode_dis_string,
    decode_pnp_id,
    decode_system_id,
    encode_dis_string,
    encode_pnp_id,
    encode_system_id,
)
from drivers.errors import DecodeError, UsageError

from .strategies import attempt


@pytest.mark.parametrize(
    ("wire", "text"),

    [
        (b"Roche\x00\x00\x00", "Roche"),
        (b"UA-651BLE   ", "UA-651BLE"),
        (b"  A&D ", "A&D"),
        (b"\x00\x00", None),
        (b"", None),
        (b"Caf\xc3\xa9", "Café"),
        (b"bad\xff", "bad\ufffd"),
    ],
)
def test_dis_strings(wire: bytes, text: str | None) -> None:
    assert decode_dis_string(wire) == text


def test_encode_dis_string() -> None:
    assert encode_dis_string("Café") == b"Caf\xc3\xa9"


def test_system_id() -> None:
    data = bytes.fromhex("01 02 03 04 05 ab cd ef")
    value = decode_system_id(data)
    assert value == SystemId(0x0504030201, 0xEFCDAB)
    assert value.oui_text == "EFCDAB"
    assert encode_system_id(value) == data
    with pytest.raises(DecodeError):
        decode_system_id(data[:7])
    with pytest.raises(UsageError):
        encode_system_id(SystemId(1 << 40, 0))
    with pytest.raises(UsageError):
        encode_system_id(SystemId(0, 1 << 24))


def test_pnp_id() -> None:
    data = bytes.fromhex("01 0d 00 34 12 00 01")
    value = decode_pnp_id(data)
    assert value == PnpId(1, 0x000D, 0x1234, 0x0100)
    assert value.vendor_id_source_name == "bluetooth_sig"
    assert PnpId(3, 0, 0, 0).vendor_id_source_name is None
    assert encode_pnp_id(value) == data
    with pytest.raises(DecodeError):
        decode_pnp_id(data[:6])
    with pytest.raises(UsageError):
        encode_pnp_id(PnpId(1, 0x10000, 0, 0))


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(st.binary(max_size=10))
def test_dis_any_bytes(data: bytes) -> None:
    text = decode_dis_string(data)
    assert text is None or text == text.strip()
    system_id = attempt(decode_system_id, data)
    if isinstance(system_id, DecodeError):
        assert len(data) < 8
    else:
        assert encode_system_id(system_id) == data[:8]
    pnp = attempt(decode_pnp_id, data)
    if isinstance(pnp, DecodeError):
        assert len(data) < 7
    else:
        assert encode_pnp_id(pnp) == data[:7]
