"""Who is signed in, what their role lets them do, and how later pages scope their rows.

Roles:
- `dinkes`: the Dinas Kesehatan, the whole city (every kelurahan) and the audit log.
- `puskesmas`: staff of one Puskesmas, only the kelurahan of its wilayah.
- `coordinator`: a kader coordinator, only the kelurahan given to the account.

How a page keeps a user to their rows (every page that lists residents, readings, referrals
or gateways by place must do this, on every query, including CSV exports):

    from central.web.auth import Principal, require, wilayah_clause
    ...
    def worklist(principal: Principal = Depends(require("dinkes", "puskesmas"))) -> ...:
        query = sa.select(t).where(wilayah_clause(principal, t.c.kelurahan))

`wilayah_clause` is true for dinkes, `column IN (the user's kelurahan)` otherwise, and false
for a scoped user with no kelurahan (an empty wilayah sees nothing, never everything). For
one row already fetched (a detail page by id), `principal.may_see(kelurahan)` answers the same
question; a refusal there must be a 404, so an id from another wilayah reveals nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import HTTPException, Request


class Role(enum.StrEnum):
    DINKES = "dinkes"
    PUSKESMAS = "puskesmas"
    COORDINATOR = "coordinator"


@dataclass(frozen=True, slots=True)
class Principal:
    username: str
    role: Role
    puskesmas_id: str | None
    wilayah: frozenset[str]

    @property
    def whole_city(self) -> bool:
        return self.role is Role.DINKES

    def may_see(self, kelurahan: str | None) -> bool:
        if self.whole_city:
            return True
        return kelurahan is not None and kelurahan in self.wilayah


def wilayah_clause(principal: Principal, column: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """The WHERE condition that keeps `principal` to the rows of their wilayah."""
    if principal.whole_city:
        return sa.true()
    if not principal.wilayah:
        return sa.false()
    return column.in_(sorted(principal.wilayah))


class NotSignedIn(Exception):
    """No valid session: the app answers with a redirect to the login page."""


class Forbidden(HTTPException):
    """A signed-in user asked for a page their role does not open (audited by the app)."""

    def __init__(self, principal: Principal, needed: tuple[Role, ...]) -> None:
        super().__init__(status_code=403)
        self.principal = principal
        self.needed = needed


def current_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise NotSignedIn
    return principal


def require(*roles: Role | str) -> Callable[[Request], Principal]:
    """A FastAPI dependency: the signed-in principal, if their role is one of `roles`."""
    allowed = tuple(Role(r) for r in roles)
    if not allowed:
        raise ValueError("require() needs at least one role")

    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal.role not in allowed:
            raise Forbidden(principal, allowed)
        return principal

    return dependency
