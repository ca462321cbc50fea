"""Password hashes for central's staff accounts: stdlib scrypt, cost stored with each hash.

scrypt is memory-hard like argon2 and needs no compiled dependency; the cost parameters live
in the stored string, so raising them later only needs `needs_rehash` at the next login.
"""

from __future__ import annotations

import functools

from core.scrypt_hash import hash_scrypt, scrypt_cost, verify_scrypt

# Memory-hard enough that a guessing rig pays dearly for every try; a staff member signs in
# rarely, so the cost is felt by attackers, not by users.
_N = 2**16
MIN_LENGTH = 10


class WeakPasswordError(ValueError):
    """The chosen password is refused; the message says what a good one looks like."""


def check_strength(password: str, username: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"the password must be at least {MIN_LENGTH} characters long")
    if password.strip().lower() == username.strip().lower():
        raise WeakPasswordError("the password must not be the user name")


def hash_password(password: str, *, n: int = _N, salt: bytes | None = None) -> str:
    return hash_scrypt(password, n=n, salt=salt)


def verify_password(password: str, stored: str) -> bool:
    return verify_scrypt(password, stored)


def needs_rehash(stored: str) -> bool:
    return scrypt_cost(stored) != _N


@functools.cache
def dummy_hash() -> str:
    """Verified against when the user name is unknown, so a wrong name costs as long as a
    wrong password and the timing does not tell which names exist."""
    return hash_password("not-a-password", salt=b"\x00" * 16)
