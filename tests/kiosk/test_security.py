from __future__ import annotations

from kiosk.security import LoginLimiter, hash_secret, tokens_match, verify_secret


def test_hash_and_verify() -> None:
    stored = hash_secret("1234", salt=b"s" * 16)
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_secret("1234", stored)
    assert not verify_secret("1235", stored)
    assert hash_secret("1234") != hash_secret("1234")  # random salt


def test_malformed_hashes_never_verify() -> None:
    for stored in (
        "",
        "plain",
        "scrypt$x$8$1$AA==$AA==",
        "md5$1$2$3$AA==$AA==",
        "scrypt$16384$8$1$!!$AA==",
    ):
        assert not verify_secret("1234", stored)


def test_limiter_locks_after_max_failures_and_unlocks_later() -> None:
    now = [0.0]
    limiter = LoginLimiter(3, 60.0, lambda: now[0])
    for _ in range(2):
        limiter.failed("10.0.0.2")
    assert not limiter.locked("10.0.0.2")
    limiter.failed("10.0.0.2")
    assert limiter.locked("10.0.0.2")
    assert not limiter.locked("10.0.0.3")
    now[0] = 59.0
    assert limiter.locked("10.0.0.2")
    now[0] = 60.0
    assert not limiter.locked("10.0.0.2")
    limiter.failed("10.0.0.2")
    limiter.succeeded("10.0.0.2")
    limiter.failed("10.0.0.2")
    limiter.failed("10.0.0.2")
    assert not limiter.locked("10.0.0.2")  # success reset the count


def test_tokens_match() -> None:
    assert tokens_match("abc", "abc")
    assert not tokens_match("abd", "abc")
    assert not tokens_match(None, "abc")
