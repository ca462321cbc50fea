"""Operator pages: devices, pairing, outbox and broker state, consent version, site settings.

Behind the admin password (scrypt hash in the settings), rate-limited per client address,
with a CSRF token on every form.
"""

from __future__ import annotations

import dataclasses
import logging
import math

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kiosk.consent import CONSENT, consent_text
from kiosk.context import Kiosk, client_key, flash_redirect, form_fields, redirect, take_flash
from kiosk.routes_kader import login_message, sync_counts
from kiosk.security import tokens_match, verify_secret
from kiosk.sessions import Login

_LOGGER = logging.getLogger(__name__)

COOKIE = "gk_admin"
TEXT_FIELDS = ("site_name", "puskesmas_name", "puskesmas_address", "puskesmas_phone")
SECONDS_FIELDS = {
    "idle_timeout_s": (30.0, 900.0),
    "measurement_timeout_s": (30.0, 900.0),
}


def router(k: Kiosk) -> APIRouter:
    r = APIRouter(prefix="/admin")

    def login_of(request: Request) -> Login | None:
        return k.admins.get(request.cookies.get(COOKIE))

    async def checked(request: Request) -> tuple[Login, dict[str, str]] | None:
        login = login_of(request)
        form = dict(await form_fields(request))
        if login is None or not tokens_match(form.get("csrf"), login.csrf):
            return None
        return login, form

    @r.get("/masuk")
    async def login_form(request: Request, m: str | None = None) -> Response:
        lang = k.settings.languages[0]
        message = login_message(m, request.query_params.get("w"), lang, failed="login_failed")
        return k.render(request, "admin_login.html", lang, message=message)

    @r.post("/masuk")
    async def login(request: Request) -> Response:
        who = client_key(request)
        # One operator account: its lock is per account, so it never locks a kader's PIN.
        if wait := k.limiter.wait_s("admin", who):
            return redirect(f"/admin/masuk?m=locked&w={math.ceil(wait)}")
        form = await form_fields(request)
        if not verify_secret(form.get("password", ""), k.settings.admin_password_hash):
            wait = k.limiter.failed("admin", who)
            _LOGGER.warning("failed operator login")
            if wait:
                return redirect(f"/admin/masuk?m=locked&w={math.ceil(wait)}")
            return redirect("/admin/masuk?m=failed")
        k.limiter.succeeded("admin", who)
        token = k.admins.create(Login(user="admin", lang=k.settings.languages[0]))
        response = redirect("/admin")
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/admin")
        return response

    @r.post("/keluar")
    async def logout(request: Request) -> Response:
        k.admins.end(request.cookies.get(COOKIE))
        response = redirect("/admin/masuk?m=ended")
        response.delete_cookie(COOKIE, path="/admin")
        return response

    @r.get("")
    async def dashboard(request: Request) -> Response:
        login = login_of(request)
        if login is None:
            return redirect("/admin/masuk")
        flash = take_flash(login, request.url.path)
        try:
            devices = list(k.deps.device_status())
        except Exception:
            _LOGGER.exception("device_status() failed")
            devices = []
        version = k.settings.consent_version
        return k.render(
            request,
            "admin.html",
            login.lang,
            login=login,
            flash=flash,
            flash_args=login.flash_args,
            devices=devices,
            sync=sync_counts(k),
            unbound=list(k.board.unbound),
            unbound_total=k.deps.binder.unbound_total,
            consent_version=version,
            consent_versions=sorted(CONSENT),
            consent=consent_text(version, login.lang),
            place=k.settings.puskesmas_name,
            can_pair=k.deps.start_pairing is not None,
            sessions={"visits": len(k.visits), "kaders": len(k.kaders)},
        )

    @r.post("/pasang")
    async def pair(request: Request) -> Response:
        found = await checked(request)
        if found is None:
            return redirect("/admin/masuk")
        login, _ = found
        if k.deps.start_pairing is None:
            return redirect("/admin")
        try:
            message = k.deps.start_pairing()
        except Exception:
            _LOGGER.exception("start_pairing() failed")
            return flash_redirect(login, "admin_pair_failed", "/admin")
        return flash_redirect(login, "admin_pair_started", "/admin", message=message)

    @r.post("/pengaturan")
    async def save_settings(request: Request) -> Response:
        found = await checked(request)
        if found is None:
            return redirect("/admin/masuk")
        login, form = found
        changes: dict[str, object] = {}
        for name in TEXT_FIELDS:
            value = " ".join(form.get(name, "").split())
            if name != "puskesmas_phone" and not value:
                return flash_redirect(login, "admin_settings_invalid", "/admin")
            changes[name] = value or None
        for name, (low, high) in SECONDS_FIELDS.items():
            try:
                seconds = float(form.get(name, ""))
            except ValueError:
                seconds = -1.0
            if not low <= seconds <= high:
                return flash_redirect(login, "admin_settings_invalid", "/admin")
            changes[name] = seconds
        version = form.get("consent_version", k.settings.consent_version)
        if version not in CONSENT:
            return flash_redirect(login, "admin_settings_invalid", "/admin")
        changes["consent_version"] = version
        k.settings = dataclasses.replace(k.settings, **changes)  # type: ignore[arg-type]
        if k.deps.on_settings_changed is not None:
            k.deps.on_settings_changed(k.settings)
        return flash_redirect(login, "admin_settings_saved", "/admin")

    return r
