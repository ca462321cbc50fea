"""The running kiosk app's state: settings, stores, the measurement board, templates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from core.reading import Kind
from kiosk.consent import CONSENT
from kiosk.deps import KioskDeps, KioskSettings
from kiosk.i18n import LANGUAGE_NAMES, text
from kiosk.measure import MeasurementBoard
from kiosk.portal_state import PortalClients
from kiosk.roster import Roster
from kiosk.security import LoginLimiter
from kiosk.sessions import Login, SessionStore, Visit
from kiosk.thresholds import load_thresholds

TEMPLATES = Path(__file__).with_name("templates")


class Kiosk:
    def __init__(self, deps: KioskDeps) -> None:
        self.deps = deps
        self.settings = deps.settings
        check_settings(deps.settings)
        self.thresholds = load_thresholds(deps.settings.thresholds_path)
        clock = deps.clock
        self.visits: SessionStore[Visit] = SessionStore(
            lambda: timedelta(seconds=self.settings.idle_timeout_s), clock
        )
        self.kaders: SessionStore[Login] = SessionStore(
            lambda: timedelta(seconds=self.settings.kader_idle_timeout_s), clock
        )
        self.admins: SessionStore[Login] = SessionStore(
            lambda: timedelta(seconds=self.settings.admin_idle_timeout_s), clock
        )
        self.board = MeasurementBoard(
            deps.binder,
            self.devices,
            lambda: timedelta(seconds=self.settings.measurement_timeout_s),
            clock,
            deps.request_measurement,
        )
        self.roster = Roster(deps.settings.roster_db_path)
        self.limiter = LoginLimiter(
            deps.settings.login_max_failures,
            deps.settings.login_lockout_s,
            lambda: clock().timestamp(),
        )
        self.portal = PortalClients(
            lambda: timedelta(seconds=self.settings.portal_accept_ttl_s), clock
        )
        self.templates = Jinja2Templates(directory=str(TEMPLATES))
        # Compile every page now, at start-up: with auto_reload off a render then never reads
        # or stats a template file, which would block the event loop on every request.
        env = self.templates.env
        env.auto_reload = False
        for name in env.list_templates():
            env.get_template(name)

    def devices(self) -> dict[Kind, str | None]:
        return {
            Kind.BLOOD_PRESSURE: self.settings.bp_device,
            Kind.GLUCOSE: self.settings.glucose_device,
        }

    def now(self) -> datetime:
        return self.deps.clock()

    def today(self) -> date:
        return self.now().astimezone(ZoneInfo(self.settings.timezone)).date()

    def lang_or_default(self, lang: str | None) -> str:
        return lang if lang in self.settings.languages else self.settings.languages[0]

    def render(
        self,
        request: Request,
        name: str,
        lang: str,
        *,
        status_code: int = 200,
        idle_url: str | None = None,
        idle_s: float = 0.0,
        **context: Any,
    ) -> HTMLResponse:
        def t(key: str, **kwargs: object) -> str:
            return text(key, lang, **kwargs)

        page: dict[str, Any] = {
            "t": t,
            "text": text,
            "lang": lang,
            "languages": [(code, LANGUAGE_NAMES[code]) for code in self.settings.languages],
            "settings": self.settings,
            "idle_url": idle_url,
            "idle_ms": int(idle_s * 1000),
            **context,
        }
        return self.templates.TemplateResponse(request, name, page, status_code=status_code)


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def flash_redirect(state: Visit | Login, key: str, path: str, **args: str) -> RedirectResponse:
    """Redirect to `path` with a message for it.

    The message stays for that page until the user is on another page: the browser may load
    a page twice (the no-history navigation script fetches, then replaces), so it cannot be
    a show-once message.
    """
    state.flash, state.flash_path, state.flash_args = key, path, dict(args)
    return redirect(path)


def take_flash(state: Visit | Login, path: str) -> str | None:
    if state.flash is not None and state.flash_path == path:
        return state.flash
    state.flash, state.flash_path, state.flash_args = None, None, {}
    return None


async def form_fields(request: Request) -> Mapping[str, str]:
    form = await request.form()
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def check_settings(settings: KioskSettings) -> None:
    if not settings.languages or any(code not in LANGUAGE_NAMES for code in settings.languages):
        raise ValueError(f"languages must be among {sorted(LANGUAGE_NAMES)}")
    texts = CONSENT.get(settings.consent_version)
    if texts is None or any(code not in texts for code in settings.languages):
        raise ValueError(f"no consent text version {settings.consent_version!r} for all languages")
    if len(settings.programme_key) < 16:
        raise ValueError("programme_key must be at least 16 bytes")
    if len(settings.central_public_key) != 32:
        raise ValueError("central_public_key must be 32 raw bytes (X25519)")
