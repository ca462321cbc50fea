"""Staff accounts: made and changed by `gempita central users`, checked at sign-in.

Sign-in is limited per account: `max_failures` wrong passwords within `window_s` lock that
name for `lockout_s`, from every address, whether or not the name exists (so the limit does
not reveal which names do). A correct password during the lock is refused too: otherwise the
lock would only slow a guesser, not stop one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from central.web.auth import Principal, Role
from central.web.errors import AccountError
from central.web.passwords import (
    check_strength,
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from central.web.tables import web_login_failures, web_sessions, web_user_wilayah, web_users

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
# Kemendagri's kelurahan/desa code: 10 digits (province, city, kecamatan, kelurahan), written
# with or without the dots (64.71.01.1001).
_KELURAHAN = re.compile(r"\d{10}")


def normalise_username(name: str) -> str:
    return name.strip().lower()


def normalise_kelurahan(code: str) -> str:
    digits = code.strip().replace(".", "")
    if not _KELURAHAN.fullmatch(digits):
        raise AccountError(
            f"kelurahan {code!r}: expected a 10-digit Kemendagri code like 6471011001 "
            "(or 64.71.01.1001)"
        )
    return digits


@dataclass(frozen=True, slots=True)
class Account:
    principal: Principal
    disabled: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class LoginResult:
    principal: Principal | None  # None: refused
    wait_s: float  # > 0: refused because the account is locked for this long


class AccountStore:
    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], float],
        *,
        max_failures: int = 5,
        window_s: float = 900.0,
        lockout_s: float = 900.0,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._max = max(1, max_failures)
        self._window = window_s
        self._lockout = lockout_s

    # --- administration (the CLI) ---

    def add(
        self,
        username: str,
        password: str,
        role: Role | str,
        *,
        puskesmas_id: str | None = None,
        wilayah: Iterable[str] = (),
    ) -> Principal:
        name = normalise_username(username)
        if not _USERNAME.fullmatch(name):
            raise AccountError(
                f"user name {username!r}: 2 to 64 of a-z, 0-9, '.', '_', '-', "
                "starting with a letter or digit"
            )
        try:
            role = Role(role)
        except ValueError as exc:
            known = ", ".join(r.value for r in Role)
            raise AccountError(f"role {role!r}: not one of {known}") from exc
        codes = frozenset(normalise_kelurahan(c) for c in wilayah)
        if role is Role.DINKES and (codes or puskesmas_id):
            raise AccountError(
                "a dinkes account sees the whole city: give it no --wilayah or --puskesmas"
            )
        if role is Role.PUSKESMAS and not puskesmas_id:
            raise AccountError("a puskesmas account needs --puskesmas ID (its Puskesmas)")
        if role is not Role.DINKES and not codes:
            raise AccountError(
                f"a {role.value} account needs --wilayah: the kelurahan codes it may see"
            )
        try:
            check_strength(password, name)
        except ValueError as exc:
            raise AccountError(str(exc)) from exc
        now = self._clock()
        with self._engine.begin() as conn:
            exists = conn.execute(
                sa.select(web_users.c.username).where(web_users.c.username == name)
            ).first()
            if exists is not None:
                raise AccountError(f"user {name!r} exists already (use `passwd` or `disable`)")
            conn.execute(
                web_users.insert(),
                {
                    "username": name,
                    "password_hash": hash_password(password),
                    "role": role.value,
                    "puskesmas_id": puskesmas_id or None,
                    "disabled": False,
                    "created_at": now,
                    "password_changed_at": now,
                },
            )
            if codes:
                conn.execute(
                    web_user_wilayah.insert(),
                    [{"username": name, "kelurahan": c} for c in sorted(codes)],
                )
        return Principal(name, role, puskesmas_id or None, codes)

    def set_password(self, username: str, password: str) -> None:
        """New password; every session of the account ends (a leaked one stops working)."""
        name = normalise_username(username)
        try:
            check_strength(password, name)
        except ValueError as exc:
            raise AccountError(str(exc)) from exc
        with self._engine.begin() as conn:
            done = conn.execute(
                web_users.update()
                .where(web_users.c.username == name)
                .values(password_hash=hash_password(password), password_changed_at=self._clock())
            ).rowcount
            if not done:
                raise AccountError(f"no user {name!r} (see `gempita central users list`)")
            conn.execute(web_sessions.delete().where(web_sessions.c.username == name))
            conn.execute(web_login_failures.delete().where(web_login_failures.c.username == name))

    def disable(self, username: str) -> None:
        """The account can no longer sign in; its sessions end now. Kept for the audit log."""
        name = normalise_username(username)
        with self._engine.begin() as conn:
            done = conn.execute(
                web_users.update().where(web_users.c.username == name).values(disabled=True)
            ).rowcount
            if not done:
                raise AccountError(f"no user {name!r} (see `gempita central users list`)")
            conn.execute(web_sessions.delete().where(web_sessions.c.username == name))

    def list(self) -> list[Account]:
        with self._engine.connect() as conn:
            users = conn.execute(sa.select(web_users).order_by(web_users.c.username)).all()
            areas = _wilayah(conn, None)
        return [
            Account(
                principal=Principal(
                    str(u.username),
                    Role(u.role),
                    u.puskesmas_id,
                    frozenset(areas.get(str(u.username), ())),
                ),
                disabled=bool(u.disabled),
                created_at=float(u.created_at),
            )
            for u in users
        ]

    def principal(self, conn: Connection, username: str) -> Principal | None:
        """The enabled account's principal, read on the caller's connection."""
        row = conn.execute(
            sa.select(web_users).where(
                web_users.c.username == username, web_users.c.disabled.is_(False)
            )
        ).first()
        if row is None:
            return None
        areas = _wilayah(conn, username)
        return Principal(
            str(row.username),
            Role(row.role),
            row.puskesmas_id,
            frozenset(areas.get(username, ())),
        )

    # --- sign-in ---

    def wait_s(self, username: str) -> float:
        name = normalise_username(username)[:64]
        now = self._clock()
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(web_login_failures.c.locked_until).where(
                    web_login_failures.c.username == name
                )
            ).first()
        return max(0.0, float(row.locked_until) - now) if row is not None else 0.0

    def login(self, username: str, password: str) -> LoginResult:
        name = normalise_username(username)[:64]
        wait = self.wait_s(name)
        if wait > 0:
            return LoginResult(None, wait)
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(web_users.c.password_hash, web_users.c.disabled).where(
                    web_users.c.username == name
                )
            ).first()
        stored = str(row.password_hash) if row is not None else dummy_hash()
        good = verify_password(password, stored) and row is not None and not row.disabled
        if not good:
            return LoginResult(None, self._failed(name))
        with self._engine.begin() as conn:
            conn.execute(web_login_failures.delete().where(web_login_failures.c.username == name))
            if needs_rehash(stored):
                conn.execute(
                    web_users.update()
                    .where(web_users.c.username == name)
                    .values(password_hash=hash_password(password))
                )
            principal = self.principal(conn, name)
        return LoginResult(principal, 0.0)

    def _failed(self, name: str) -> float:
        """Count one failure; the wait it leaves (0 while tries remain)."""
        now = self._clock()
        with self._engine.begin() as conn:
            # Rows whose window and lock are over say nothing any more: keep the table small.
            conn.execute(
                web_login_failures.delete().where(
                    web_login_failures.c.locked_until <= now,
                    web_login_failures.c.window_start <= now - self._window,
                )
            )
            row = conn.execute(
                sa.select(web_login_failures)
                .where(web_login_failures.c.username == name)
                .with_for_update()
            ).first()
            if row is None:
                failures, start = 1, now
                conn.execute(
                    web_login_failures.insert(),
                    {"username": name, "failures": 1, "window_start": now, "locked_until": 0.0},
                )
            else:
                failures, start = int(row.failures) + 1, float(row.window_start)
            locked_until = now + self._lockout if failures >= self._max else 0.0
            if locked_until:
                # A lock starts a fresh count for when it ends.
                failures, start = 0, now
            conn.execute(
                web_login_failures.update()
                .where(web_login_failures.c.username == name)
                .values(failures=failures, window_start=start, locked_until=locked_until)
            )
        return max(0.0, locked_until - now)


def _wilayah(conn: Connection, username: str | None) -> dict[str, list[str]]:
    query = sa.select(web_user_wilayah.c.username, web_user_wilayah.c.kelurahan)
    if username is not None:
        query = query.where(web_user_wilayah.c.username == username)
    found: dict[str, list[str]] = {}
    for user, code in conn.execute(query):
        found.setdefault(str(user), []).append(str(code))
    return found
