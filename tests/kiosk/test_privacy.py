from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.privacy import SealError, generate_keypair, pseudonym, seal, unseal

KEYS = generate_keypair()
OTHER = generate_keypair()
KEY = b"k" * 32


def test_pseudonym_is_stable_keyed_and_ignores_spacing() -> None:
    p = pseudonym("6471031708850003", KEY)
    assert p == pseudonym("6471 0317 0885 0003", KEY)
    assert len(p) == 64 and int(p, 16) >= 0
    assert p != pseudonym("6471031708850003", b"j" * 32)
    assert p != pseudonym("6471031708850004", KEY)
    # Known answer, computed independently: HMAC-SHA256(key=b"k"*32, msg=NIK).
    import hashlib
    import hmac

    assert p == hmac.new(KEY, b"6471031708850003", hashlib.sha256).hexdigest()


def test_pseudonym_refuses_a_short_key() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        pseudonym("6471031708850003", b"short")


def test_seal_round_trip_and_fresh_each_time() -> None:
    a = seal("6471031708850003", KEYS.public_key)
    b = seal("6471031708850003", KEYS.public_key)
    assert a != b
    assert "6471031708850003" not in a
    assert unseal(a, KEYS.private_key) == "6471031708850003"
    assert unseal(b, KEYS.private_key) == "6471031708850003"


def test_wrong_key_tampering_and_garbage_are_refused() -> None:
    sealed = seal("6471031708850003", KEYS.public_key)
    with pytest.raises(SealError):
        unseal(sealed, OTHER.private_key)
    blob = bytearray(base64.b64decode(sealed))
    blob[-1] ^= 1
    with pytest.raises(SealError):
        unseal(base64.b64encode(bytes(blob)).decode(), KEYS.private_key)
    blob = bytearray(base64.b64decode(sealed))
    blob[0] = 2  # unknown version
    with pytest.raises(SealError):
        unseal(base64.b64encode(bytes(blob)).decode(), KEYS.private_key)
    with pytest.raises(SealError):
        unseal("not base64!", KEYS.private_key)
    with pytest.raises(SealError):
        unseal(base64.b64encode(b"\x01" + b"\x00" * 20).decode(), KEYS.private_key)


def test_seal_needs_a_32_byte_public_key() -> None:
    with pytest.raises(ValueError, match="32 raw bytes"):
        seal("x", b"\x01" * 31)


@given(st.text(max_size=64))
def test_any_text_round_trips(plain: str) -> None:
    assert unseal(seal(plain, KEYS.public_key), KEYS.private_key) == plain


@given(st.text(max_size=200))
def test_unseal_of_anything_gives_text_or_seal_error(sealed: str) -> None:
    try:
        result = unseal(sealed, KEYS.private_key)
    except SealError:
        return
    assert isinstance(result, str)
