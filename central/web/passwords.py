"""Password hashes for central's staff accounts: stdlib scrypt, cost stored with each hash.

scrypt is memory-hard like argon2 and needs no compiled dependency; the cost parameters live
in the stored string, so raising them later only needs `needs_rehash` at the next login.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

# Memory-hard enough that a guessing rig pays dearly for every try; a staff member signs in
# rarely, so the cost is felt by attackers, not by users.
_N, _R, _P = 2**16, 8, 1
_DKLEN = 32
_MAXMEM = 256 * 1024 * 1024
MIN_LENGTH = 10


class WeakPasswordError(ValueError):
    """The chosen password is refused; the message says what a good one looks like."""


def check_strength(password: str, username: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"the password must be at least {MIN_LENGTH} characters long")
    if password.strip().lower() == username.strip().lower():
        raise WeakPasswordError("the password must not be the user name")


def hash_password(password: str, *, n: int = _N, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$hash`, base64 parts."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=_R, p=_P, dklen=_DKLEN, maxmem=_MAXMEM
    )
    return "$".join(("scrypt", str(n), str(_R), str(_P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=n,
            r=r,
            p=p,
            dklen=len(expected),
            maxmem=_MAXMEM,
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


def needs_rehash(stored: str) -> bool:
    parts = stored.split("$")
    return len(parts) != 6 or parts[0] != "scrypt" or parts[1] != str(_N)


@functools.cache
def dummy_hash() -> str:
    """Verified against when the user name is unknown, so a wrong name costs as long as a
    wrong password and the timing does not tell which names exist."""
    return hash_password("not-a-password", salt=b"\x00" * 16)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
