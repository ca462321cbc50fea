"""Secrets at rest (scrypt hashes), login rate limiting and CSRF tokens."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from core.scrypt_hash import hash_scrypt, verify_scrypt

# scrypt cost: ~30 ms on a Pi 4 class CPU, 16 MiB of memory; stored with the hash so it can
# be raised later without invalidating existing hashes.
_N = 2**14


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    """The stored form of an admin password or a kader PIN."""
    return hash_scrypt(secret, n=_N, salt=salt)


def verify_secret(secret: str, stored: str) -> bool:
    return verify_scrypt(secret, stored)


@dataclass(slots=True)
class _Failures:
    count: int
    first_at: float
    locked_until: float = 0.0


class _Line:
    """One line of defence: failures per key within a window, then a lock of `lockout_s`.

    The window is the lockout time: a kader's typo in the morning and one in the afternoon
    do not add up to a lock.
    """

    def __init__(self, max_failures: int, lockout_s: float) -> None:
        self.max = max(1, max_failures)
        self.lockout = lockout_s
        self.records: dict[str, _Failures] = {}

    def wait(self, key: str, now: float) -> float:
        record = self.records.get(key)
        if record is None:
            return 0.0
        if record.locked_until > now:
            return record.locked_until - now
        if record.locked_until or now - record.first_at >= self.lockout:
            del self.records[key]
        return 0.0

    def fail(self, key: str, now: float) -> float:
        self.wait(key, now)  # drops a record whose lock or window has passed
        record = self.records.get(key)
        if record is None:
            record = self.records[key] = _Failures(0, now)
        if not record.locked_until:
            record.count += 1
            if record.count >= self.max:
                record.locked_until = now + self.lockout
        return max(0.0, record.locked_until - now)

    def prune(self, now: float, limit: int) -> None:
        if len(self.records) < limit:
            return
        for key, r in list(self.records.items()):
            if r.locked_until <= now and now - r.first_at >= self.lockout:
                del self.records[key]
        if len(self.records) >= limit:
            # Still full of live records (a flood of made-up ids): keep every lock, and drop
            # the older half of the counts that have not locked anything yet.
            counting = sorted(
                (r.first_at, k) for k, r in self.records.items() if not r.locked_until
            )
            for _first, key in counting[: max(1, len(counting) // 2)]:
                del self.records[key]


class LoginLimiter:
    """Counts failed logins per account and per client address; locks either after too many.

    The account line (a kader id, "admin") is the strict one: `max_failures` wrong secrets
    lock that account from every address, so a guesser cannot move on to the next phone, and
    nobody else's login on the same address is touched. The address line is looser
    (`address_max_failures`, by default four times as many) and stops one phone that tries
    many ids once each. A success clears the account's count, never the address's: otherwise
    a guesser who knows one PIN could reset its own count. `clock` is monotonic seconds.
    """

    def __init__(
        self,
        max_failures: int,
        lockout_s: float,
        clock: Callable[[], float],
        *,
        address_max_failures: int | None = None,
        max_records: int = 10_000,
    ) -> None:
        self._clock = clock
        self._accounts = _Line(max_failures, lockout_s)
        self._addresses = _Line(address_max_failures or 4 * max_failures, lockout_s)
        # Made-up account ids are keys too: bound the memory a stream of guesses can take
        # (per line).
        self._max_records = max_records

    def wait_s(self, account: str, address: str) -> float:
        """Seconds until this account may try again from this address (0: it may now)."""
        now = self._clock()
        return max(self._accounts.wait(account, now), self._addresses.wait(address, now))

    def failed(self, account: str, address: str) -> float:
        """Count a wrong secret; returns the wait it leaves (0 while tries remain)."""
        now = self._clock()
        self._accounts.prune(now, self._max_records)
        self._addresses.prune(now, self._max_records)
        return max(self._accounts.fail(account, now), self._addresses.fail(address, now))

    def succeeded(self, account: str, _address: str) -> None:
        self._accounts.records.pop(account, None)

    def tracked(self) -> int:
        """Accounts and addresses with a record (for tests of the memory bound)."""
        return len(self._accounts.records) + len(self._addresses.records)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def tokens_match(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
