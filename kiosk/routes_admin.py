"""Operator pages: devices, pairing, outbox and broker state, consent version, site settings.

Behind the admin password (scrypt hash in the settings), rate-limited per client address,
with a CSRF token on every form. Everything shown is in the operator's language and the
site's time zone: an operator reads "Terputus · 3 mnt", not `connected False` and a UTC
timestamp with microseconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kiosk.assurance_forms import reason_text
from kiosk.consent import CONSENT, consent_text
from kiosk.context import Kiosk, client_key, flash_redirect, form_fields, redirect, take_flash
from kiosk.deps import KioskSettings
from kiosk.i18n import text
from kiosk.measure import UnboundNote
from kiosk.pairing import ERROR_KEYS, FoundMeter, PairedMeter, Pairing, PairingError
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
# What the operator can change here; the gateway keeps these across restarts.
EDITABLE_FIELDS = (*TEXT_FIELDS, *SECONDS_FIELDS, "consent_version", "bp_device", "glucose_device")
KINDS = ("blood_pressure", "glucose")
KIND_FIELDS = {"blood_pressure": "bp_device", "glucose": "glucose_device"}
DEVICE_STATES = ("idle", "connecting", "transferring", "error", "unavailable")
UNBOUND_PAGE = 10


# --- how times, durations and counts read --------------------------------------------------


def _as_datetime(value: object) -> datetime | None:
    """Aware UTC from what status callables hand over: datetime, ISO text or epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_time(value: object, settings: KioskSettings) -> str | None:
    """'01-12-2026 14:05 WITA': day first, as the site writes dates, in the site's zone."""
    moment = _as_datetime(value)
    if moment is None:
        return None
    local = moment.astimezone(ZoneInfo(settings.timezone))
    return f"{local:%d-%m-%Y %H:%M} {settings.timezone_label}"


def human_duration(seconds: float, lang: str) -> str:
    """'45 dtk', '3 mnt', '2 jam 5 mnt', '3 hari 4 jam' (rounded down: never overstated)."""
    s = max(0, int(seconds))
    if s < 60:
        return text("dur_s", lang, n=s)
    if s < 3600:
        return text("dur_min", lang, n=s // 60)
    if s < 86400:
        return text("dur_h", lang, h=s // 3600, m=s % 3600 // 60)
    return text("dur_d", lang, d=s // 86400, h=s % 86400 // 3600)


def _kind_label(kind: object, lang: str) -> str:
    return text(f"kind_{kind}", lang) if kind in KINDS else text("kind_unknown", lang)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def device_rows(
    devices: Sequence[Mapping[str, Any]], k: Kiosk, lang: str
) -> list[dict[str, Any]]:
    now = k.now()
    used = {name: kind for kind, name in _assigned(k.settings).items() if name}
    rows = []
    for d in devices:
        state = d.get("state")
        seen = _as_datetime(d.get("last_seen"))
        name = str(d.get("name") or "")
        rows.append(
            {
                "name": name,
                "kind": _kind_label(d.get("kind"), lang),
                "state": text(f"dev_{state}", lang) if state in DEVICE_STATES else str(state),
                "state_key": state,
                "last_seen": local_time(seen, k.settings),
                "ago": (
                    text("ago", lang, d=human_duration((now - seen).total_seconds(), lang))
                    if seen is not None
                    else None
                ),
                "battery": d.get("battery_pct"),
                # Newly stored readings only; the supervisor counts re-sent memory apart.
                "stored": _count(d.get("readings_stored")),
                "resent": _count(d.get("records_resent")),
                "error": d.get("last_error") or None,
                "used_for": _kind_label(used[name], lang) if name in used else None,
                "check": _assurance_text(d.get("assurance"), lang),
            }
        )
    return rows


def _assurance_text(assurance: object, lang: str) -> str | None:
    """"Alat perlu diperiksa" and why, in the page's language, for a device out of policy."""
    if not isinstance(assurance, Mapping) or assurance.get("status") != "out_of_policy":
        return None
    reasons = ", ".join(reason_text(str(r), lang) for r in assurance.get("reasons") or ())
    return f"{text('device_check_short', lang)}: {reasons}" if reasons else text(
        "device_check_short", lang
    )


def _assigned(settings: KioskSettings) -> dict[str, str | None]:
    return {"blood_pressure": settings.bp_device, "glucose": settings.glucose_device}


def broker_view(k: Kiosk, lang: str) -> dict[str, Any] | None:
    source = k.deps.broker_state
    if source is None:
        return None
    try:
        state = dict(source())
    except Exception:  # status must never take the page down
        _LOGGER.exception("broker_state() failed")
        return {"error": True}
    now = k.now()
    since = _as_datetime(state.get("connected_since"))
    connected = bool(state.get("connected"))
    alarms = []
    for alarm in state.get("alarms") or ():
        name, _, detail = str(alarm).partition(": ")
        if name == "outbox_full":
            alarms.append(text("alarm_outbox_full", lang))
        elif name == "storage_error":
            alarms.append(text("alarm_storage_error", lang, detail=detail))
        else:
            alarms.append(str(alarm))
    return {
        "error": False,
        "connected": connected,
        "broker": state.get("broker") or "",
        "since": (
            text(
                "admin_broker_since",
                lang,
                at=local_time(since, k.settings),
                d=human_duration((now - since).total_seconds(), lang),
            )
            if connected and since is not None
            else None
        ),
        "last_publish": local_time(state.get("last_publish_at"), k.settings),
        "last_error": state.get("last_error") or None,
        "last_error_at": local_time(state.get("last_error_at"), k.settings),
        "alarms": alarms,
    }


def outbox_rows(sync: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    """Labelled rows for the outbox counts; a value that is absent is left out, never 'None'."""
    rows: list[tuple[str, str]] = []
    for key in ("pending", "published", "confirmed", "refused"):
        if isinstance(sync.get(key), int):
            rows.append((text(f"ob_{key}", lang), f"{sync[key]:,}".replace(",", ".")))
    age = sync.get("oldest_pending_age_s")
    if isinstance(age, int | float) and not isinstance(age, bool):
        rows.append((text("ob_oldest", lang), human_duration(age, lang)))
    held, cap = sync.get("unconfirmed"), sync.get("max_readings")
    if isinstance(held, int) and isinstance(cap, int) and cap > 0:
        rows.append(
            (text("ob_capacity", lang), f"{held:,} / {cap:,}".replace(",", "."))
        )
    if sync.get("last_error"):
        rows.append((text("ob_last_error", lang), str(sync["last_error"])))
    return rows


def unbound_view(
    notes: Sequence[UnboundNote], total: int, page: int, k: Kiosk, lang: str
) -> dict[str, Any]:
    """A summary (how many, since when, per device) and one page of the latest notes.

    The board keeps only the latest notes; the total is the binder's count of all of them.
    """
    newest_first = list(reversed(notes))
    pages = max(1, math.ceil(len(newest_first) / UNBOUND_PAGE))
    page = min(max(1, page), pages)
    start = (page - 1) * UNBOUND_PAGE
    per_device: dict[str, int] = {}
    for note in notes:
        per_device[note.device_name] = per_device.get(note.device_name, 0) + 1
    return {
        "total": total,
        "kept": len(notes),
        "oldest": local_time(notes[0].at, k.settings) if notes else None,
        "newest": local_time(notes[-1].at, k.settings) if notes else None,
        "per_device": sorted(per_device.items()),
        "entries": [
            {
                "at": local_time(note.at, k.settings),
                "device": note.device_name,
                "kind": _kind_label(note.kind, lang),
            }
            for note in newest_first[start : start + UNBOUND_PAGE]
        ],
        "page": page,
        "pages": pages,
    }


# --- pairing state (one operator at a time) ------------------------------------------------


@dataclass(slots=True)
class PairingState:
    found: list[FoundMeter] | None = None  # None: no scan yet
    scanned_at: datetime | None = None
    paired: PairedMeter | None = None
    paired_kind: str | None = None  # the profile it advertised, to preselect
    error: tuple[str, str] | None = None  # (text key, technical detail)
    done: str | None = None  # "pair_assigned" message, already formatted
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def router(k: Kiosk) -> APIRouter:
    r = APIRouter(prefix="/admin")
    pairing = PairingState()

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
    async def dashboard(request: Request, hal: int = 1) -> Response:
        login = login_of(request)
        if login is None:
            return redirect("/admin/masuk")
        lang = login.lang
        flash = take_flash(login, request.url.path)
        try:
            devices = list(k.deps.device_status())
        except Exception:
            _LOGGER.exception("device_status() failed")
            devices = []
        version = k.settings.consent_version
        sync = sync_counts(k)
        return k.render(
            request,
            "admin.html",
            lang,
            login=login,
            flash=flash,
            flash_args=login.flash_args,
            devices=device_rows(devices, k, lang),
            assurance_pages=k.deps.assurance is not None,
            broker=broker_view(k, lang),
            sync_error=bool(sync.get("error")),
            outbox=outbox_rows(sync, lang),
            unbound=unbound_view(list(k.board.unbound), k.deps.binder.unbound_total, hal, k, lang),
            consent_version=version,
            consent_versions=sorted(CONSENT),
            consent=consent_text(version, lang),
            place=k.settings.puskesmas_name,
            can_pair=k.deps.pairing is not None or k.deps.start_pairing is not None,
            pair_page=k.deps.pairing is not None,
            sessions={"visits": len(k.visits), "kaders": len(k.kaders)},
        )

    @r.post("/pasang")
    async def pair_message(request: Request) -> Response:
        # The message-only pairing hook (gateways without an injected Pairing).
        found = await checked(request)
        if found is None:
            return redirect("/admin/masuk")
        login, _ = found
        if k.deps.start_pairing is None:
            return redirect("/admin/pasang" if k.deps.pairing is not None else "/admin")
        try:
            message = k.deps.start_pairing()
        except Exception:
            _LOGGER.exception("start_pairing() failed")
            return flash_redirect(login, "admin_pair_failed", "/admin")
        return flash_redirect(login, "admin_pair_started", "/admin", message=message)

    # --- pairing from the page: scan, pick, pair (passkey), assign --------------------------

    @r.get("/pasang")
    async def pair_page(request: Request) -> Response:
        login = login_of(request)
        if login is None:
            return redirect("/admin/masuk")
        lang = login.lang
        service = k.deps.pairing
        found = [
            {
                "address": m.address,
                "name": m.name or m.address,
                "kind": _kind_label(m.kind, lang),
                "rssi": m.rssi,
            }
            for m in pairing.found or ()
        ]
        return k.render(
            request,
            "admin_pair.html",
            lang,
            login=login,
            available=service is not None,
            scan_s=int(service.scan_s) if service is not None else 0,
            scanned=pairing.found is not None,
            scanned_at=local_time(pairing.scanned_at, k.settings),
            found=found,
            paired=pairing.paired,
            paired_kind=pairing.paired_kind,
            error=pairing.error,
            done=pairing.done,
            kinds=[(kind, _kind_label(kind, lang)) for kind in KINDS],
        )

    async def pairing_step(request: Request) -> tuple[Login, dict[str, str], Pairing] | Response:
        found = await checked(request)
        if found is None:
            return redirect("/admin/masuk")
        service = k.deps.pairing
        if service is None:
            return redirect("/admin/pasang")
        if pairing.lock.locked():
            # One BlueZ operation at a time: a second scan would only disturb the first.
            pairing.error = ("pair_busy", "")
            return redirect("/admin/pasang")
        pairing.error = None
        pairing.done = None
        return (*found, service)

    def failed(exc: PairingError, what: str) -> None:
        # The Pairing contract: every failure arrives as a PairingError naming a text.
        key = exc.key if exc.key in ERROR_KEYS else "pair_err_failed"
        pairing.error = (key, exc.detail)
        _LOGGER.warning("operator %s failed: %s", what, exc)

    @r.post("/pasang/cari")
    async def pair_scan(request: Request) -> Response:
        step = await pairing_step(request)
        if isinstance(step, Response):
            return step
        service = step[2]
        async with pairing.lock:
            try:
                meters = await service.scan()
            except PairingError as exc:
                failed(exc, "scan")
                pairing.found = None
            else:
                pairing.found = list(meters)
                pairing.scanned_at = k.now()
                pairing.paired = None
        return redirect("/admin/pasang")

    @r.post("/pasang/sambung")
    async def pair_connect(request: Request) -> Response:
        step = await pairing_step(request)
        if isinstance(step, Response):
            return step
        _, form, service = step
        meter = next((m for m in pairing.found or () if m.address == form.get("address")), None)
        if meter is None:
            pairing.error = ("pair_choose", "")
            return redirect("/admin/pasang")
        passkey = "".join(form.get("passkey", "").split()) or None
        if passkey is not None and not (passkey.isdigit() and len(passkey) <= 16):
            pairing.error = ("pair_err_passkey", "")
            return redirect("/admin/pasang")
        async with pairing.lock:
            try:
                paired = await service.pair(meter.address, passkey)
            except PairingError as exc:
                failed(exc, "pairing")
            else:
                pairing.paired = paired
                pairing.paired_kind = meter.kind
                _LOGGER.info("operator paired %s", paired.address)
        return redirect("/admin/pasang")

    @r.post("/pasang/tetapkan")
    async def pair_assign(request: Request) -> Response:
        step = await pairing_step(request)
        if isinstance(step, Response):
            return step
        login, form, service = step
        paired = pairing.paired
        kind = form.get("kind", "")
        if paired is None or paired.address != form.get("address"):
            pairing.error = ("pair_choose", "")
            return redirect("/admin/pasang")
        if kind not in KIND_FIELDS:
            pairing.error = ("pair_err_kind", "")
            return redirect("/admin/pasang")
        async with pairing.lock:
            try:
                device_name = await service.assign(paired.address, kind, paired.name)
            except PairingError as exc:
                failed(exc, "assignment")
                return redirect("/admin/pasang")
        if kind == "blood_pressure":
            k.settings = dataclasses.replace(k.settings, bp_device=device_name)
        else:
            k.settings = dataclasses.replace(k.settings, glucose_device=device_name)
        if k.deps.on_settings_changed is not None:
            k.deps.on_settings_changed(k.settings)
        pairing.done = text(
            "pair_assigned", login.lang, name=paired.name, what=_kind_label(kind, login.lang)
        )
        pairing.paired = None
        pairing.found = None
        _LOGGER.info("kiosk %s device is now %s", kind, device_name)
        return redirect("/admin/pasang")

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
