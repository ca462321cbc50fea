"""What the app gives every page module: its stores, the renderer, the caller's address."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import Engine

from central.web.accounts import AccountStore
from central.web.audit import Auditor
from central.web.sessions import SessionStore
from central.web.settings import WebSettings

# render(request, template_name, status=200, **context): the page in the user's language, with
# the menu, the signed-in principal and the CSRF token in the context (base.html uses them).
Render = Callable[..., HTMLResponse]


@dataclass(slots=True)
class WebApp:
    engine: Engine  # central's database: readings, fleet, and the pages' own tables
    clock: Callable[[], float]  # seconds since the epoch (injected: tests move it)
    settings: WebSettings
    accounts: AccountStore
    sessions: SessionStore
    auditor: Auditor
    templates: jinja2.Environment


class PageModule(Protocol):
    def register(self, app: FastAPI, web: WebApp, render: Render) -> None: ...


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"
