"""`create_app(engine, settings, clock)`: central's staff web app, server-rendered.

Every request passes one guard (`_guard`, an app-wide dependency): it finds the session from
the cookie, picks the language, and refuses a state-changing request whose CSRF token is
missing or wrong. Pages then ask for a role with `require(...)` (auth.py) and keep their
queries to the user's wilayah with `wilayah_clause` (auth.py). Database work runs in
FastAPI's thread pool (sync routes), never on the event loop central's service shares.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time,
# and they name dependencies local to create_app.
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode

import jinja2
from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from central.web import page_cascade, page_fleet, page_quality, page_worklist
from central.web.accounts import AccountStore
from central.web.audit import Action, Auditor
from central.web.auth import Forbidden, NotSignedIn, Principal, Role, require
from central.web.headers import SafetyHeaders
from central.web.i18n import LANG_COOKIE, LANGUAGE_NAMES, pick_language, text
from central.web.sessions import COOKIE, Session, SessionStore, tokens_match
from central.web.settings import WebSettings
from central.web.shared import PageModule, WebApp, client_address

_LOGGER = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Before a session exists the login form is protected by a double-submit cookie instead.
LOGIN_CSRF_COOKIE = "gempita_central_login_csrf"
CSRF_FIELD = "csrf_token"
API_PREFIX = "/api/"
ANY_ROLE = (Role.DINKES, Role.PUSKESMAS, Role.COORDINATOR)


@dataclass(frozen=True, slots=True)
class _Page:
    """A page of the menu; `ready` False until its issue item lands."""

    path: str
    key: str
    ready: bool
    roles: tuple[Role, ...]


MENU: tuple[_Page, ...] = (
    _Page("/fleet", "nav_fleet", True, ANY_ROLE),
    _Page("/cascade", "nav_cascade", True, ANY_ROLE),
    _Page("/worklist", "nav_worklist", True, ANY_ROLE),
    _Page("/quality", "nav_quality", True, ANY_ROLE),
    _Page("/audit", "nav_audit", True, (Role.DINKES,)),
)


# The programme's pages, one module each: `register(app, web, render)` adds its routes (and
# flips its MENU entry's `ready`). Kept apart so each page is its own file.
PAGES: tuple[PageModule, ...] = (page_cascade, page_worklist, page_fleet, page_quality)


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token."""


def _lang(request: Request) -> str:
    lang = getattr(request.state, "lang", None)
    return lang if isinstance(lang, str) else pick_language(None, None)


def create_app(engine: Engine, settings: WebSettings, clock: Callable[[], float]) -> FastAPI:
    accounts = AccountStore(
        engine,
        clock,
        max_failures=settings.login_max_failures,
        window_s=settings.login_window_s,
        lockout_s=settings.login_lockout_s,
    )
    web = WebApp(
        engine=engine,
        clock=clock,
        settings=settings,
        accounts=accounts,
        sessions=SessionStore(engine, accounts, clock, settings.session_idle_s),
        auditor=Auditor(engine, clock),
        templates=jinja2.Environment(
            loader=jinja2.FileSystemLoader(_HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        ),
    )

    async def guard(request: Request) -> None:
        request.state.lang = pick_language(
            request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)
        )
        session: Session | None = await run_in_threadpool(
            web.sessions.get, request.cookies.get(COOKIE)
        )
        request.state.session = session
        request.state.principal = session.principal if session else None
        if request.method in _SAFE_METHODS or request.url.path.startswith(API_PREFIX):
            # /api/ is for machines (the phone's bundle upload): no session, no cookies; each
            # request is authenticated by what it carries (a signed, sealed bundle).
            return
        form = await request.form()
        given = form.get(CSRF_FIELD)
        given_text = given if isinstance(given, str) else None
        if request.url.path == "/login":
            expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        else:
            expected = session.csrf_token if session else ""
        if not expected or not tokens_match(given_text, expected):
            raise CsrfRefused

    web.templates.filters["utc"] = _utc

    app = FastAPI(
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(guard)],
    )
    app.state.web = web
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        """`here=`: the GET address of what a page answering a POST shows (its language links
        go there); without it they reload the request's own address, query and all."""
        lang = _lang(request)
        session: Session | None = getattr(request.state, "session", None)
        here = context.pop("here", None)
        body = web.templates.get_template(name).render(
            t=lambda key, **values: text(key, lang, **values),
            lang=lang,
            languages=LANGUAGE_NAMES,
            lang_links=_language_links(request, here),
            path=request.url.path,
            principal=session.principal if session else None,
            csrf=session.csrf_token if session else "",
            menu=[p for p in MENU if session and session.principal.role in p.roles],
            **context,
        )
        response = HTMLResponse(body, status_code=status)
        if request.query_params.get("lang") in LANGUAGE_NAMES:
            response.set_cookie(
                LANG_COOKIE,
                lang,
                max_age=365 * 24 * 3600,
                httponly=True,
                samesite="strict",
                secure=settings.secure_cookies,
            )
        return response

    def error(request: Request, status: int, key: str) -> HTMLResponse:
        return render(request, "error.html", status, code=status, message_key=key)

    @app.exception_handler(NotSignedIn)
    async def to_login(request: Request, _: NotSignedIn) -> Response:
        target = request.url.path
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        await run_in_threadpool(
            web.auditor.audit,
            exc.principal,
            Action.FORBIDDEN,
            f"{request.method} {request.url.path}",
            client_address(request),
            outcome="refused",
        )
        _LOGGER.warning(
            "web: %s (%s) refused %s", exc.principal.username, exc.principal.role, request.url.path
        )
        return error(request, 403, "error_403")

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: CsrfRefused) -> Response:
        principal: Principal | None = getattr(request.state, "principal", None)
        await run_in_threadpool(
            web.auditor.audit,
            principal if principal is not None else "-",
            Action.CSRF_REFUSED,
            f"{request.method} {request.url.path}",
            client_address(request),
            outcome="refused",
        )
        return error(request, 403, "error_csrf")

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, _: RequestValidationError) -> Response:
        return error(request, 400, "error_other")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not hasattr(request.state, "lang"):  # a 404 never ran the guard
            request.state.lang = pick_language(
                request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)
            )
        key = {404: "error_404", 403: "error_403"}.get(exc.status_code, "error_other")
        return error(request, exc.status_code, key)

    def login_page(
        request: Request,
        status: int = 200,
        *,
        message: str = "",
        username: str = "",
        next_path: str | None = None,
    ) -> HTMLResponse:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
        # A refused sign-in (a POST) carries `next` in its form: it must survive the retry.
        going = _local_path(request.query_params.get("next") if next_path is None else next_path)
        response = render(
            request,
            "login.html",
            status,
            login_csrf=token,
            message=message,
            username=username,
            next_path=going,
            here="/login" if going == "/" else f"/login?{urlencode({'next': going})}",
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookies,
        )
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        if request.state.principal is not None:
            return RedirectResponse("/", status_code=303)
        return login_page(request)

    @app.post("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=200)] = "",
        password: Annotated[str, Form(max_length=1000)] = "",
        next_path: Annotated[str, Form(alias="next", max_length=500)] = "/",
    ) -> Response:
        address = client_address(request)
        typed = username.strip().lower()[:64]
        result = web.accounts.login(username, password)
        if result.principal is None:
            if result.wait_s > 0:
                web.auditor.audit(typed, Action.LOGIN_LIMITED, "", address, outcome="refused")
                minutes = max(1, -(-int(result.wait_s) // 60))
                message = text("login_limited", _lang(request), minutes=minutes)
                return login_page(
                    request, 429, message=message, username=username, next_path=next_path
                )
            web.auditor.audit(typed, Action.LOGIN_FAILED, "", address, outcome="refused")
            message = text("login_wrong", _lang(request))
            return login_page(request, 401, message=message, username=username, next_path=next_path)
        principal = result.principal
        # Sessions nobody came back to are otherwise only deleted when their cookie returns.
        web.sessions.sweep()
        token = web.sessions.create(principal, address)
        web.auditor.audit(principal, Action.LOGIN, "", address)
        _LOGGER.info("web: %s signed in (%s)", principal.username, principal.role)
        response = RedirectResponse(_local_path(next_path), status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookies,
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @app.post("/logout")
    def logout(request: Request) -> Response:
        session: Session | None = request.state.session
        if session is not None:
            web.auditor.audit(session.principal, Action.LOGOUT, "", client_address(request))
            web.sessions.end(session.token_hash)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    any_role = require(*ANY_ROLE)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request, principal: Annotated[Principal, Depends(any_role)]) -> Response:
        return render(
            request, "home.html", wilayah=sorted(principal.wilayah), whole_city=principal.whole_city
        )

    for page in MENU:
        if not page.ready:
            _add_placeholder(app, page, render)
    for module in PAGES:
        module.register(app, web, render)

    dinkes = require(Role.DINKES)

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(
        request: Request,
        principal: Annotated[Principal, Depends(dinkes)],
        user: Annotated[str, Query(max_length=64)] = "",
        action: Annotated[str, Query(max_length=40)] = "",
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    ) -> Response:
        user = user.strip().lower()
        action = action if action in {a.value for a in Action} else ""
        # The log holds staff names and addresses: reading it is itself recorded.
        web.auditor.audit(
            principal,
            Action.VIEW_AUDIT,
            f"user={user or '*'} action={action or '*'} page={page}",
            client_address(request),
        )
        found = web.auditor.search(
            username=user, action=action, page=page, page_size=settings.page_size
        )
        return render(
            request,
            "audit.html",
            found=found,
            user=user,
            action=action,
            actions=[a.value for a in Action],
        )

    app.add_middleware(SafetyHeaders)
    return app


def _add_placeholder(app: FastAPI, page: _Page, render: Callable[..., HTMLResponse]) -> None:
    allowed = require(*page.roles)

    def placeholder(request: Request, _: Annotated[Principal, Depends(allowed)]) -> Response:
        return render(request, "not_yet.html", title_key=page.key)

    app.add_api_route(
        page.path, placeholder, methods=["GET"], response_class=HTMLResponse, name=page.key
    )


def _language_links(request: Request, here: str | None) -> dict[str, str]:
    """Each language's link: the same view again, its query kept and only `lang` replaced.

    A page answering a POST reloads its own GET page (`here`), or home when it names none:
    the POST route by GET is a 405, and repeating the POST would redo what it did.
    """
    if here is None:
        safe = request.method in _SAFE_METHODS
        here = f"{request.url.path}?{request.url.query}" if safe else "/"
    path, _, query = here.partition("?")
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "lang"]
    return {code: f"{path}?{urlencode([*kept, ('lang', code)])}" for code in LANGUAGE_NAMES}


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _local_path(candidate: str | None) -> str:
    """Only a path on this site: `next=//evil.example` must not send anyone away."""
    if not candidate or not candidate.startswith("/") or candidate.startswith("//"):
        return "/"
    if "\\" in candidate or any(c < " " for c in candidate):
        return "/"
    return candidate
