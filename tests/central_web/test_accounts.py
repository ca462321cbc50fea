"""Accounts: checked when made; sign-in limited per account, known or not."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from central.web.accounts import AccountStore
from central.web.auth import Role
from central.web.errors import AccountError
from central.web.sessions import SessionStore
from central.web.tables import web_users

from .helpers import PASSWORD, WILAYAH_A, EpochClock, add_staff


def test_an_account_is_stored_hashed_and_signs_in(
    accounts: AccountStore, engine: sa.Engine
) -> None:
    add_staff(accounts)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(web_users.c.password_hash)).scalars().all()
    assert all(PASSWORD not in s for s in stored)
    result = accounts.login(" BUDI ", PASSWORD)
    assert result.principal is not None
    assert result.principal.username == "budi"
    assert result.principal.role is Role.PUSKESMAS
    assert result.principal.puskesmas_id == "pkm-a"
    assert result.principal.wilayah == frozenset(WILAYAH_A)
    assert [a.principal.username for a in accounts.list()] == ["budi", "citra", "dina"]


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"role": "admin"}, "role 'admin': not one of dinkes, puskesmas, coordinator"),
        ({"role": "puskesmas", "wilayah": WILAYAH_A}, "needs --puskesmas"),
        ({"role": "puskesmas", "puskesmas_id": "p"}, "needs --wilayah"),
        ({"role": "coordinator"}, "needs --wilayah"),
        ({"role": "dinkes", "wilayah": WILAYAH_A}, "whole city"),
        ({"role": "coordinator", "wilayah": ["64710110"]}, "10-digit Kemendagri code"),
        ({"role": "dinkes", "username": "x"}, "user name 'x'"),
        ({"role": "dinkes", "username": "a b"}, "user name 'a b'"),
        ({"role": "dinkes", "password": "short"}, "at least 10"),
    ],
)
def test_a_wrong_account_is_refused_with_what_to_fix(
    accounts: AccountStore, kwargs: dict[str, object], says: str
) -> None:
    username = str(kwargs.pop("username", "nama"))
    password = str(kwargs.pop("password", PASSWORD))
    role = str(kwargs.pop("role"))
    with pytest.raises(AccountError, match=says.replace("(", r"\(").replace(")", r"\)")):
        accounts.add(username, password, role, **kwargs)  # type: ignore[arg-type]
    assert accounts.list() == []


def test_a_name_is_taken_once(accounts: AccountStore) -> None:
    accounts.add("dina", PASSWORD, Role.DINKES)
    with pytest.raises(AccountError, match="exists already"):
        accounts.add("DINA", PASSWORD, Role.DINKES)


def test_dotted_kelurahan_codes_are_stored_as_digits(accounts: AccountStore) -> None:
    made = accounts.add("citra", PASSWORD, Role.COORDINATOR, wilayah=["64.71.01.1001"])
    assert made.wilayah == frozenset({"6471011001"})


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(
    accounts: AccountStore, clock: EpochClock
) -> None:
    add_staff(accounts)
    for _ in range(4):
        assert accounts.login("dina", "salah-salah-1").wait_s == 0
    locked = accounts.login("dina", "salah-salah-1")
    assert locked.principal is None
    assert locked.wait_s == pytest.approx(900)
    refused = accounts.login("dina", PASSWORD)
    assert refused.principal is None
    assert refused.wait_s > 0
    # Only that account: another one signs in meanwhile.
    assert accounts.login("budi", PASSWORD).principal is not None
    clock.advance(901)
    assert accounts.login("dina", PASSWORD).principal is not None


def test_an_unknown_name_is_limited_like_a_real_one(accounts: AccountStore) -> None:
    add_staff(accounts)
    real = [accounts.login("dina", "salah-salah-1").wait_s for _ in range(5)]
    made_up = [accounts.login("tidak-ada", "salah-salah-1").wait_s for _ in range(5)]
    assert real == made_up
    assert real[-1] > 0


def test_failures_outside_the_window_do_not_add_up(
    accounts: AccountStore, clock: EpochClock
) -> None:
    add_staff(accounts)
    for _ in range(4):
        accounts.login("dina", "salah-salah-1")
    clock.advance(901)
    for _ in range(4):
        assert accounts.login("dina", "salah-salah-1").wait_s == 0
    assert accounts.login("dina", PASSWORD).principal is not None


def test_a_success_clears_the_count(accounts: AccountStore) -> None:
    add_staff(accounts)
    for _ in range(4):
        accounts.login("dina", "salah-salah-1")
    assert accounts.login("dina", PASSWORD).principal is not None
    for _ in range(4):
        assert accounts.login("dina", "salah-salah-1").wait_s == 0


def test_disable_and_passwd_end_the_sessions(
    accounts: AccountStore, engine: sa.Engine, clock: EpochClock
) -> None:
    add_staff(accounts)
    sessions = SessionStore(engine, accounts, clock, idle_s=600)
    dina = accounts.login("dina", PASSWORD).principal
    budi = accounts.login("budi", PASSWORD).principal
    assert dina is not None
    assert budi is not None
    dina_token = sessions.create(dina, "127.0.0.1")
    budi_token = sessions.create(budi, "127.0.0.1")
    accounts.set_password("dina", "kata-sandi-baru-2")
    assert sessions.get(dina_token) is None
    assert accounts.login("dina", PASSWORD).principal is None
    assert accounts.login("dina", "kata-sandi-baru-2").principal is not None
    accounts.disable("budi")
    assert sessions.get(budi_token) is None
    assert accounts.login("budi", PASSWORD).principal is None
    with pytest.raises(AccountError, match="no user 'nobody'"):
        accounts.disable("nobody")
    with pytest.raises(AccountError, match="no user 'nobody'"):
        accounts.set_password("nobody", "kata-sandi-baru-2")
