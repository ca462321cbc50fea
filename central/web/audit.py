"""The audit log: who did what, when, from where.

Every view or export of personal data (an unsealed NIK, a name, a phone number) must call
`audit(...)` in the same request, before the data is sent; so are sign-ins (good and bad),
sign-outs and refused pages. `what` says which record or filter, never the personal data
itself (no NIK, no name): the log must be safe to show to an auditor.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from central.web.auth import Principal
from central.web.tables import audit_log


class Action(enum.StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_LIMITED = "login_limited"
    LOGOUT = "logout"
    FORBIDDEN = "forbidden"
    CSRF_REFUSED = "csrf_refused"
    VIEW_AUDIT = "view_audit"
    VIEW_PERSONAL = "view_personal"
    EXPORT_PERSONAL = "export_personal"
    # The referral worklist (page_worklist.py).
    VIEW_WORKLIST = "view_worklist"
    VIEW_REFERRAL = "view_referral"
    UPDATE_REFERRAL = "update_referral"
    EXPORT_WORKLIST = "export_worklist"
    REVEAL_NIK = "reveal_nik"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    n: int
    at: float
    username: str
    role: str
    action: str
    what: str
    address: str
    outcome: str


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int
    pages: int


class Auditor:
    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self._engine = engine
        self._clock = clock

    def audit(
        self,
        who: Principal | str,
        action: Action,
        what: str,
        address: str,
        *,
        outcome: str = "ok",
    ) -> None:
        """Write one entry now, committed before this returns."""
        username, role = (who.username, who.role.value) if isinstance(who, Principal) else (who, "")
        with self._engine.begin() as conn:
            conn.execute(
                audit_log.insert(),
                {
                    "at": self._clock(),
                    "username": username[:64],
                    "role": role,
                    "action": action.value,
                    "what": what[:500],
                    "address": address[:64],
                    "outcome": outcome[:10],
                },
            )

    def search(
        self, *, username: str = "", action: str = "", page: int = 1, page_size: int = 50
    ) -> AuditPage:
        """Newest first, filtered by exact user name and action when given."""
        where: list[sa.ColumnElement[bool]] = []
        if username:
            where.append(audit_log.c.username == username)
        if action:
            where.append(audit_log.c.action == action)
        with self._engine.connect() as conn:
            total = int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(audit_log).where(*where)
                ).scalar_one()
            )
            pages = max(1, -(-total // page_size))
            page = min(max(1, page), pages)
            rows = conn.execute(
                sa.select(audit_log)
                .where(*where)
                .order_by(audit_log.c.n.desc())
                .limit(page_size)
                .offset((page - 1) * page_size)
            ).all()
        entries = [
            AuditEntry(
                n=int(r.n),
                at=float(r.at),
                username=str(r.username),
                role=str(r.role),
                action=str(r.action),
                what=str(r.what),
                address=str(r.address),
                outcome=str(r.outcome),
            )
            for r in rows
        ]
        return AuditPage(entries=entries, total=total, page=page, pages=pages)
