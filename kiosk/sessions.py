"""Server-side sessions: a resident's visit at the kiosk, a kader's and an operator's login.

The browser only holds an opaque random token; everything else stays here and is dropped on
"Selesai", on idle timeout or when a new visit starts, so nothing of a previous resident can
be brought back with the back button.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from core.reading import Subject
from kiosk.security import new_token


@dataclass(slots=True)
class Visit:
    """One resident's pass through the kiosk flow."""

    lang: str
    visit_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # Subject.session_id
    csrf: str = field(default_factory=new_token)
    consent_version: str | None = None
    consent_at: datetime | None = None
    guardian: bool = False
    subject: Subject | None = None
    masked_nik: str | None = None
    minor: bool = False  # 15–17: needs the guardian's consent
    plan: list[str] = field(default_factory=list)  # "blood_pressure" / "glucose", in order
    fasting: bool | None = None
    flash: str | None = None  # text key shown on `flash_path` until the visit moves on
    flash_path: str | None = None
    flash_args: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Login:
    """A kader's or operator's login."""

    user: str
    lang: str
    active_entry: str | None = None  # kader: the roster entry last sent to measure
    csrf: str = field(default_factory=new_token)
    flash: str | None = None
    flash_path: str | None = None
    flash_args: dict[str, str] = field(default_factory=dict)


S = TypeVar("S")


@dataclass(slots=True)
class _Entry(Generic[S]):
    state: S
    last_seen: datetime


class SessionStore(Generic[S]):
    def __init__(self, idle: Callable[[], timedelta], clock: Callable[[], datetime]) -> None:
        self._idle = idle  # read on every check: the operator may change it at run time
        self._clock = clock
        self._entries: dict[str, _Entry[S]] = {}

    def create(self, state: S) -> str:
        token = secrets.token_urlsafe(32)
        self._entries[token] = _Entry(state, self._clock())
        return token

    def get(self, token: str | None, *, touch: bool = True) -> S | None:
        if not token:
            return None
        entry = self._entries.get(token)
        if entry is None:
            return None
        now = self._clock()
        if now - entry.last_seen > self._idle():
            del self._entries[token]
            return None
        if touch:
            entry.last_seen = now
        return entry.state

    def end(self, token: str | None) -> S | None:
        entry = self._entries.pop(token, None) if token else None
        return entry.state if entry else None

    def sweep(self) -> list[S]:
        """Drop idle sessions; returns them so their device claims can be released."""
        now, idle = self._clock(), self._idle()
        expired = [t for t, e in self._entries.items() if now - e.last_seen > idle]
        return [self._entries.pop(t).state for t in expired]

    def __len__(self) -> int:
        return len(self._entries)
