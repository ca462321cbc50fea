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
        limiter.failed("kader:k1", "10.0.0.2")
    assert limiter.wait_s("kader:k1", "10.0.0.2") == 0
    limiter.failed("kader:k1", "10.0.0.2")
    assert limiter.wait_s("kader:k1", "10.0.0.2") == 60.0
    assert limiter.wait_s("kader:k2", "10.0.0.3") == 0
    now[0] = 59.0
    assert limiter.wait_s("kader:k1", "10.0.0.2") == 1.0
    now[0] = 60.0
    assert limiter.wait_s("kader:k1", "10.0.0.2") == 0
    limiter.failed("kader:k1", "10.0.0.2")
    limiter.succeeded("kader:k1", "10.0.0.2")
    limiter.failed("kader:k1", "10.0.0.2")
    limiter.failed("kader:k1", "10.0.0.2")
    assert limiter.wait_s("kader:k1", "10.0.0.2") == 0  # success reset the count


def test_failed_returns_the_wait_it_starts() -> None:
    now = [100.0]
    limiter = LoginLimiter(2, 300.0, lambda: now[0])
    assert limiter.failed("admin", "10.0.0.2") == 0
    assert limiter.failed("admin", "10.0.0.2") == 300.0


def test_one_account_locked_does_not_lock_the_others_on_that_address() -> None:
    now = [0.0]
    limiter = LoginLimiter(5, 300.0, lambda: now[0])
    for _ in range(5):
        limiter.failed("admin", "10.0.0.2")
    assert limiter.wait_s("admin", "10.0.0.2") == 300.0
    assert limiter.wait_s("kader:k1", "10.0.0.2") == 0  # the kader's PIN still works here
    # The locked account is locked from every address: guessing cannot move to another phone.
    assert limiter.wait_s("admin", "10.0.0.9") == 300.0


def test_one_address_guessing_many_accounts_is_stopped_by_the_looser_address_line() -> None:
    now = [0.0]
    limiter = LoginLimiter(5, 300.0, lambda: now[0])  # address line: 4 x 5 = 20 failures
    for n in range(19):
        limiter.failed(f"kader:guess{n}", "10.0.0.66")  # one try each: no account locks
        now[0] += 1
    assert limiter.wait_s("kader:k1", "10.0.0.66") == 0
    limiter.failed("kader:guess19", "10.0.0.66")
    assert limiter.wait_s("kader:k1", "10.0.0.66") == 300.0
    assert limiter.wait_s("kader:k1", "10.0.0.2") == 0  # other phones are not affected
    # A right PIN does not reopen the address: it would let a guesser reset its own count.
    limiter.succeeded("kader:k1", "10.0.0.66")
    assert limiter.wait_s("kader:k1", "10.0.0.66") == 300.0
    now[0] += 300
    assert limiter.wait_s("kader:k1", "10.0.0.66") == 0


def test_failures_spread_over_more_than_the_window_do_not_add_up() -> None:
    now = [0.0]
    limiter = LoginLimiter(3, 60.0, lambda: now[0])
    for _ in range(4):
        limiter.failed("kader:k1", "10.0.0.2")  # a typo now and then over the day
        now[0] += 61
    assert limiter.wait_s("kader:k1", "10.0.0.2") == 0


def test_expired_records_are_dropped() -> None:
    now = [0.0]
    limiter = LoginLimiter(5, 60.0, lambda: now[0], max_records=10)
    for n in range(10):
        limiter.failed(f"kader:g{n}", f"10.0.1.{n}")
    now[0] = 61.0
    limiter.failed("kader:new", "10.0.2.1")
    assert limiter.tracked() == 2  # the new account and address; the rest had expired


def test_tokens_match() -> None:
    assert tokens_match("abc", "abc")
    assert not tokens_match("abd", "abc")
    assert not tokens_match(None, "abc")
