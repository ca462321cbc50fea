"""core/scrypt_hash.py: the stored form, checked against RFC 7914's own test vector."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from core.scrypt_hash import hash_scrypt, scrypt_cost, verify_scrypt

# RFC 7914 section 12, second vector: P="password", S="NaCl", N=1024, r=8, p=16, dkLen=64.
RFC7914_DK = bytes.fromhex(
    "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
    "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_a_stored_hash_in_the_rfc_vector_s_parameters_verifies() -> None:
    stored = f"scrypt$1024$8$16${b64(b'NaCl')}${b64(RFC7914_DK)}"
    assert verify_scrypt("password", stored)
    assert not verify_scrypt("Password", stored)
    assert scrypt_cost(stored) == 1024


def test_the_cost_is_kept_with_the_hash() -> None:
    stored = hash_scrypt("kader-pin-1234", n=2**10)
    assert stored.startswith("scrypt$1024$8$1$")
    assert scrypt_cost(stored) == 1024
    assert verify_scrypt("kader-pin-1234", stored)


def test_malformed_hashes_are_false_never_an_exception() -> None:
    for stored in ["", "scrypt", "bcrypt$1$2$3$4$5", "scrypt$x$8$1$AAAA$AAAA", "scrypt$3$8$1$!$!"]:
        assert not verify_scrypt("secret", stored)
    assert scrypt_cost("argon2$1") is None


@settings(max_examples=20, deadline=None)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_only_the_same_secret_verifies(secret: str, other: str) -> None:
    stored = hash_scrypt(secret, n=2**8)
    assert verify_scrypt(secret, stored)
    assert verify_scrypt(other, stored) == (other == secret)
