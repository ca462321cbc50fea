"""Server-side sessions: a random token in the cookie, its hash in the table, an idle timeout.

The row holds the session's CSRF token too: every form carries it, and a state-changing
request whose token differs is refused (app.py). A session unused for `idle_s` is gone: the
next request finds nothing and signs in again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from central.web.accounts import AccountStore
from central.web.auth import Principal
from central.web.tables import web_sessions

COOKIE = "gempita_central_session"
# A request within this much of the last one does not rewrite the row: one write per minute
# per user is enough to keep the idle clock honest.
_TOUCH_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf_token: str
    token_hash: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_match(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class SessionStore:
    def __init__(
        self,
        engine: Engine,
        accounts: AccountStore,
        clock: Callable[[], float],
        idle_s: float,
    ) -> None:
        self._engine = engine
        self._accounts = accounts
        self._clock = clock
        self._idle = idle_s

    def create(self, principal: Principal, address: str) -> str:
        """A new session; returns the cookie's token (only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._engine.begin() as conn:
            conn.execute(
                web_sessions.insert(),
                {
                    "token_hash": _digest(token),
                    "username": principal.username,
                    "csrf_token": secrets.token_urlsafe(32),
                    "created_at": now,
                    "last_seen_at": now,
                    "address": address[:64],
                },
            )
        return token

    def get(self, token: str | None) -> Session | None:
        """The live session of this cookie, its idle clock restarted; None when there is none."""
        if not token:
            return None
        key = _digest(token)
        now = self._clock()
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(web_sessions).where(web_sessions.c.token_hash == key)
            ).first()
            if row is None:
                return None
            if now - float(row.last_seen_at) >= self._idle:
                conn.execute(web_sessions.delete().where(web_sessions.c.token_hash == key))
                return None
            principal = self._accounts.principal(conn, str(row.username))
            if principal is None:  # disabled since: the session dies with the account
                conn.execute(web_sessions.delete().where(web_sessions.c.token_hash == key))
                return None
            if now - float(row.last_seen_at) >= min(_TOUCH_EVERY_S, self._idle / 10):
                conn.execute(
                    web_sessions.update()
                    .where(web_sessions.c.token_hash == key)
                    .values(last_seen_at=now)
                )
        return Session(principal, str(row.csrf_token), key)

    def end(self, token_hash: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(web_sessions.delete().where(web_sessions.c.token_hash == token_hash))

    def sweep(self) -> int:
        """Delete every idle session; returns how many."""
        cutoff = self._clock() - self._idle
        with self._engine.begin() as conn:
            return int(
                conn.execute(
                    web_sessions.delete().where(web_sessions.c.last_seen_at <= cutoff)
                ).rowcount
            )
