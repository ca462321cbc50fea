"""Password hashes: scrypt with its cost in the stored string."""

from __future__ import annotations

import pytest

from central.web.passwords import (
    WeakPasswordError,
    check_strength,
    hash_password,
    needs_rehash,
    verify_password,
)


def test_a_hash_verifies_its_password_and_no_other() -> None:
    stored = hash_password("kata-sandi-benar-1")
    assert stored.startswith("scrypt$")
    assert "kata-sandi" not in stored
    assert verify_password("kata-sandi-benar-1", stored)
    assert not verify_password("kata-sandi-benar-2", stored)
    assert not verify_password("", stored)


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("same-password-1") != hash_password("same-password-1")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "scrypt$1$2$3",
        "bcrypt$a$b$c$d$e",
        "scrypt$x$8$1$AAAA$AAAA",
        "scrypt$16$8$1$!$!",
    ],
)
def test_a_damaged_hash_verifies_nothing(stored: str) -> None:
    assert not verify_password("anything", stored)


def test_a_cheaper_hash_still_verifies_and_asks_to_be_redone() -> None:
    old = hash_password("kata-sandi-lama-1", n=2**10)
    assert verify_password("kata-sandi-lama-1", old)
    assert needs_rehash(old)
    assert not needs_rehash(hash_password("kata-sandi-lama-1"))


@pytest.mark.parametrize(
    ("password", "username", "says"),
    [("pendek", "ana", "at least 10"), ("ana.dinkes", "Ana.Dinkes", "user name")],
)
def test_weak_passwords_are_refused_with_the_reason(
    password: str, username: str, says: str
) -> None:
    with pytest.raises(WeakPasswordError, match=says):
        check_strength(password, username)
    check_strength("kata-sandi-benar-1", username)
