"""Sessions: the cookie's token is never stored; an idle session is gone."""

from __future__ import annotations

import sqlalchemy as sa

from central.web.accounts import AccountStore
from central.web.sessions import SessionStore
from central.web.tables import web_sessions

from .helpers import PASSWORD, EpochClock, add_staff


def _signed_in(
    accounts: AccountStore, engine: sa.Engine, clock: EpochClock
) -> tuple[SessionStore, str]:
    add_staff(accounts)
    principal = accounts.login("dina", PASSWORD).principal
    assert principal is not None
    sessions = SessionStore(engine, accounts, clock, idle_s=600)
    return sessions, sessions.create(principal, "10.0.0.7")


def test_a_session_is_found_by_its_token_only(
    accounts: AccountStore, engine: sa.Engine, clock: EpochClock
) -> None:
    sessions, token = _signed_in(accounts, engine, clock)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(web_sessions.c.token_hash)).scalars().all()
    assert len(stored) == 1
    assert token not in stored[0]
    found = sessions.get(token)
    assert found is not None
    assert found.principal.username == "dina"
    assert len(found.csrf_token) >= 32
    assert sessions.get(token + "x") is None
    assert sessions.get("") is None
    assert sessions.get(None) is None


def test_an_idle_session_expires_and_use_keeps_it_alive(
    accounts: AccountStore, engine: sa.Engine, clock: EpochClock
) -> None:
    sessions, token = _signed_in(accounts, engine, clock)
    for _ in range(5):  # used every 5 minutes for 25 minutes: alive throughout
        clock.advance(300)
        assert sessions.get(token) is not None
    clock.advance(600)
    assert sessions.get(token) is None
    clock.advance(-600)  # it stays gone: the row was deleted, not only refused
    assert sessions.get(token) is None


def test_sweep_removes_idle_sessions_only(
    accounts: AccountStore, engine: sa.Engine, clock: EpochClock
) -> None:
    sessions, old = _signed_in(accounts, engine, clock)
    clock.advance(400)
    principal = accounts.login("budi", PASSWORD).principal
    assert principal is not None
    new = sessions.create(principal, "10.0.0.8")
    clock.advance(300)
    assert sessions.sweep() == 1
    assert sessions.get(new) is not None
    assert sessions.get(old) is None


def test_logout_ends_the_session(
    accounts: AccountStore, engine: sa.Engine, clock: EpochClock
) -> None:
    sessions, token = _signed_in(accounts, engine, clock)
    found = sessions.get(token)
    assert found is not None
    sessions.end(found.token_hash)
    assert sessions.get(token) is None
