"""Secrets at rest (scrypt hashes), login rate limiting and CSRF tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass

# scrypt cost: ~30 ms on a Pi 4 class CPU, 16 MiB of memory; stored with the hash so it can
# be raised later without invalidating existing hashes.
_N, _R, _P = 2**14, 8, 1
_DKLEN = 32


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$hash` (base64 parts) for an admin password or a kader PIN."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return "$".join(("scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)))


def verify_secret(secret: str, stored: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
        digest = hashlib.scrypt(
            secret.encode("utf-8"),
            salt=salt,
            n=n,
            r=r,
            p=p,
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(slots=True)
class _Failures:
    count: int
    locked_until: float


class LoginLimiter:
    """Counts failed logins per key (client address); locks the key out after too many.

    `clock` is monotonic seconds. A success clears the key's record.
    """

    def __init__(self, max_failures: int, lockout_s: float, clock: Callable[[], float]) -> None:
        self._max = max_failures
        self._lockout = lockout_s
        self._clock = clock
        self._records: dict[str, _Failures] = {}

    def locked(self, key: str) -> bool:
        record = self._records.get(key)
        if record is None:
            return False
        if record.locked_until and self._clock() >= record.locked_until:
            del self._records[key]
            return False
        return bool(record.locked_until)

    def failed(self, key: str) -> None:
        record = self._records.setdefault(key, _Failures(0, 0.0))
        record.count += 1
        if record.count >= self._max:
            record.locked_until = self._clock() + self._lockout

    def succeeded(self, key: str) -> None:
        self._records.pop(key, None)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def tokens_match(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
