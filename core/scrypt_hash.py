"""Secrets at rest as stdlib scrypt hashes, `scrypt$N$r$p$salt$hash` with base64 parts.

The cost travels with each hash, so a caller may choose its own (a kiosk PIN on a Pi, a staff
password at the centre) and raise it later without invalidating stored hashes. Memory-hard like
argon2, with no compiled dependency.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

R, P = 8, 1
DKLEN = 32
MAXMEM = 256 * 1024 * 1024


def hash_scrypt(secret: str, *, n: int, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=n, r=R, p=P, dklen=DKLEN, maxmem=MAXMEM
    )
    return "$".join(("scrypt", str(n), str(R), str(P), _b64(salt), _b64(digest)))


def verify_scrypt(secret: str, stored: str) -> bool:
    """True when `secret` hashes to `stored`; False for a wrong secret or a malformed hash."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
        digest = hashlib.scrypt(
            secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=MAXMEM
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


def scrypt_cost(stored: str) -> int | None:
    """The N a stored hash was made with, or None when it is not a scrypt hash of ours."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        return int(parts[1])
    except ValueError:
        return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
