"""Kader mode: a community health worker's phone on the kit's Wi-Fi.

Login with a PIN (rate-limited per kader id, and more loosely per phone), register or pick a
resident, measure, see the day's list and where each reading is on its way to central. Each
roster entry's id is the visit id the binder puts into the reading's subject, so a result
always lands on the resident it was taken for.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from core.reading import Kind, Subject
from kiosk.assurance_forms import is_out_of_policy, status_rows
from kiosk.consent import GUARDIAN_SUFFIX, consent_text
from kiosk.context import Kiosk, client_key, flash_redirect, form_fields, redirect, take_flash
from kiosk.i18n import text
from kiosk.identify import IdentifyError, identify_resident
from kiosk.measure import Measurement, StartError, State
from kiosk.results import assess, build_view, qr_svg, qr_text
from kiosk.roster import Entry, ResultRow
from kiosk.routes_resident import status_reply
from kiosk.security import hash_secret, tokens_match, verify_secret
from kiosk.sessions import Login

_LOGGER = logging.getLogger(__name__)

COOKIE = "gk_kader"
LABEL_MAX = 40


def router(k: Kiosk) -> APIRouter:
    r = APIRouter(prefix="/kader")

    def login_of(request: Request) -> Login | None:
        return k.kaders.get(request.cookies.get(COOKIE))

    def page(request: Request, login: Login, name: str, **context: Any) -> Response:
        flash = take_flash(login, request.url.path)
        return k.render(request, name, login.lang, login=login, flash=flash, **context)

    # The roster is SQLite (a file on a kit): its calls run in a thread, off the event loop.
    async def entry_of(entry_id: str) -> Entry | None:
        return await asyncio.to_thread(k.roster.get, entry_id, k.today().isoformat())

    @r.get("/masuk")
    async def login_form(request: Request, m: str | None = None) -> Response:
        lang = k.lang_or_default(request.query_params.get("lang"))
        message = login_message(m, request.query_params.get("w"), lang, failed="kader_login_failed")
        return k.render(request, "kader_login.html", lang, message=message)

    @r.post("/masuk")
    async def login(request: Request) -> Response:
        form = await form_fields(request)
        who = client_key(request)
        lang = k.lang_or_default(form.get("lang"))
        kader_id = form.get("kader", "").strip()
        account = f"kader:{kader_id}"
        wait = k.limiter.wait_s(account, who)
        if wait:
            return redirect(f"/kader/masuk?m=locked&w={math.ceil(wait)}&lang={lang}")
        stored = k.settings.kader_pin_hashes.get(kader_id)
        # An unknown id costs the same scrypt work as a known one: the time taken must not
        # tell a guesser which ids exist.
        matched = verify_secret(form.get("pin", ""), stored or _dummy_hash())
        if stored is None or not matched:
            wait = k.limiter.failed(account, who)
            if wait:
                return redirect(f"/kader/masuk?m=locked&w={math.ceil(wait)}&lang={lang}")
            return redirect(f"/kader/masuk?m=failed&lang={lang}")
        k.limiter.succeeded(account, who)
        token = k.kaders.create(Login(user=kader_id, lang=lang))
        response = redirect("/kader")
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/kader")
        return response

    @r.post("/keluar")
    async def logout(request: Request) -> Response:
        k.kaders.end(request.cookies.get(COOKIE))
        response = redirect("/kader/masuk?m=ended")
        response.delete_cookie(COOKIE, path="/kader")
        return response

    @r.get("")
    async def home(request: Request) -> Response:
        login = login_of(request)
        if login is None:
            return redirect("/kader/masuk")
        day = k.today().isoformat()
        for entry_id in await asyncio.to_thread(k.roster.purge_before, day):
            k.board.forget(entry_id)
        day_list = await asyncio.to_thread(k.roster.day_list, day)
        states = await reading_states(k, [r.reading_id for _e, rows in day_list for r in rows])
        listed = [(entry, [sync_row(k, r, states) for r in rows]) for entry, rows in day_list]
        return page(
            request,
            login,
            "kader_home.html",
            day_list=listed,
            mine=own_counts(login.user, day_list, states),
            sync=sync_counts(k),
            mutu_kept=k.deps.assurance is not None,
            mutu_flagged=flagged_devices(k),
        )

    @r.get("/daftar")
    async def register_form(request: Request) -> Response:
        login = login_of(request)
        if login is None:
            return redirect("/kader/masuk")
        text = consent_text(k.settings.consent_version, login.lang)
        return page(
            request, login, "kader_register.html", consent=text, place=k.settings.puskesmas_name
        )

    @r.post("/daftar")
    async def register(request: Request) -> Response:
        login = login_of(request)
        form = await form_fields(request)
        if login is None or not tokens_match(form.get("csrf"), login.csrf):
            return redirect("/kader/masuk")
        if form.get("consent") != "yes":
            return flash_redirect(login, "kader_consent_required", "/kader/daftar")
        try:
            who = identify_resident(form, k.settings, k.today())
        except IdentifyError as exc:
            return flash_redirect(login, exc.key, "/kader/daftar")
        version = k.settings.consent_version
        if who.minor:
            if form.get("guardian") != "yes":
                return flash_redirect(login, "guardian_needed", "/kader/daftar")
            version += GUARDIAN_SUFFIX
        now = k.now()
        entry = await asyncio.to_thread(
            k.roster.add,
            day=k.today().isoformat(),
            kader=login.user,
            pseudonym=who.pseudonym,
            sealed_nik=who.sealed_nik,
            masked_nik=who.masked_nik,
            label=" ".join(form.get("label", "").split())[:LABEL_MAX],
            consent_version=version,
            consent_at=now,
            now=now,
            region=who.region,
            sex=who.sex,
            age_band=who.age_band,
        )
        return redirect(f"/kader/warga/{entry.id}")

    @r.get("/warga/{entry_id}")
    async def resident(request: Request, entry_id: str) -> Response:
        login = login_of(request)
        if login is None:
            return redirect("/kader/masuk")
        entry = await entry_of(entry_id)
        if entry is None:
            return redirect("/kader")
        views = [
            build_view(m, k.thresholds, k.settings, login.lang) for m in k.board.results(entry.id)
        ]
        earlier = await asyncio.to_thread(k.roster.results, entry.id)
        devices = k.devices()
        # The resident takes the same referral and QR home as from the kiosk screen.
        qr = qr_svg(qr_text(views, k.settings, login.lang)) if views else None
        return page(
            request,
            login,
            "kader_resident.html",
            entry=entry,
            views=views,
            qr=qr,
            earlier=earlier,
            sync_rows=await sync_rows(k, earlier),
            has_bp=bool(devices[Kind.BLOOD_PRESSURE]),
            has_glucose=bool(devices[Kind.GLUCOSE]),
        )

    @r.post("/warga/{entry_id}/ukur")
    async def measure(request: Request, entry_id: str) -> Response:
        login = login_of(request)
        form = await form_fields(request)
        if login is None or not tokens_match(form.get("csrf"), login.csrf):
            return redirect("/kader/masuk")
        entry = await entry_of(entry_id)
        if entry is None:
            return redirect("/kader")
        test = form.get("test")
        if test == "bp":
            kind, fasting = Kind.BLOOD_PRESSURE, None
        elif test in ("glucose_fasting", "glucose_random"):
            kind, fasting = Kind.GLUCOSE, test == "glucose_fasting"
        else:
            return redirect(f"/kader/warga/{entry.id}")
        subject = Subject(
            pseudonym=entry.pseudonym,
            sealed_nik=entry.sealed_nik,
            consent_version=entry.consent_version,
            consent_at=entry.consent_at,
            session_id=entry.id,
            performer=f"kader:{login.user}",
            region=entry.region,
            sex=entry.sex,
            age_band=entry.age_band,
        )
        lang, kader = login.lang, login.user

        def done(measurement: Measurement) -> None:
            record_result(k, entry.id, measurement, lang, kader)

        if login.active_entry not in (None, entry.id):
            # One measurement per kader at a time: moving on to the next resident releases
            # the device the previous one was still holding.
            k.board.cancel(login.active_entry)
        login.active_entry = entry.id
        try:
            k.board.start(subject, kind, fasting=fasting, on_done=done)
        except StartError as exc:
            return flash_redirect(login, exc.key, f"/kader/warga/{entry.id}")
        return redirect(f"/kader/ukur/{entry.id}")

    @r.get("/ukur/{entry_id}")
    async def measuring(request: Request, entry_id: str) -> Response:
        login = login_of(request)
        if login is None:
            return redirect("/kader/masuk")
        entry = await entry_of(entry_id)
        if entry is None:
            return redirect("/kader")
        current = k.board.current(entry.id)
        if current is None or current.state is State.DONE:
            return redirect(f"/kader/warga/{entry.id}")
        return page(
            request,
            login,
            "measuring.html",
            measurement=current,
            status_url=f"/kader/ukur/{entry.id}/status",
            done_url=f"/kader/warga/{entry.id}",
            retry_url=f"/kader/warga/{entry.id}",
            back_url=f"/kader/warga/{entry.id}",
            entry=entry,
        )

    @r.get("/ukur/{entry_id}/status")
    async def measuring_status(request: Request, entry_id: str) -> Response:
        login = login_of(request)
        if login is None:
            return JSONResponse({"state": "ended"})
        return JSONResponse(await status_reply(k.board, entry_id, request.query_params))

    @r.post("/ukur/{entry_id}/batal")
    async def cancel(request: Request, entry_id: str) -> Response:
        login = login_of(request)
        form = await form_fields(request)
        if login is None or not tokens_match(form.get("csrf"), login.csrf):
            return redirect("/kader/masuk")
        k.board.cancel(entry_id)
        return redirect(f"/kader/warga/{entry_id}")

    @r.post("/bahasa")
    async def switch_language(request: Request) -> Response:
        login = login_of(request)
        form = await form_fields(request)
        if login is None or not tokens_match(form.get("csrf"), login.csrf):
            return redirect("/kader/masuk")
        login.lang = k.lang_or_default(form.get("lang"))
        return redirect("/kader")

    return r


def flagged_devices(k: Kiosk) -> int:
    """How many of the kit's devices are out of policy, for the home page's "Mutu alat" link."""
    if k.deps.assurance is None:
        return 0
    return sum(1 for row in status_rows(k.deps.device_status) if is_out_of_policy(row))


def record_result(
    k: Kiosk, entry_id: str, measurement: Measurement, lang: str, kader: str | None = None
) -> None:
    reading = measurement.reading
    if reading is None:
        return
    view = build_view(measurement, k.thresholds, k.settings, lang)
    found = assess(measurement, k.thresholds)
    k.roster.add_result(
        entry_id,
        reading_id=reading.id,
        kind=reading.kind.value,
        summary=view.summary,
        band=found.band.key if found.band else None,
        urgent=found.urgent,
        measured_at=reading.measured_at,
        kader=kader,
    )


# --- where each reading is on its way to central (issue 10 item 4) -------------------------
# The outbox's state names, in the order a reading moves through them.
STATES = ("pending", "published", "confirmed")


@dataclass(frozen=True, slots=True)
class SyncRow:
    """One reading as a kader's page lists it: when, what, and how far it has got."""

    time: str  # HH:MM in the site's zone
    summary: str
    urgent: bool
    state: str  # one of STATES, "unknown" (the outbox does not hold it) or "unavailable"


async def reading_states(k: Kiosk, ids: list[str]) -> dict[str, str] | None:
    """Each reading's outbox state, in one query; None when the kit cannot say."""
    fetch = k.deps.reading_states
    if fetch is None:
        return None
    if not ids:
        return {}
    try:
        return dict(await fetch(ids))
    except Exception:  # a page must never fail because the outbox did
        _LOGGER.exception("reading_states() failed")
        return None


def state_of(states: dict[str, str] | None, reading_id: str) -> str:
    if states is None:
        return "unavailable"
    state = states.get(reading_id)
    # Not held: not stored yet, or purged after the retention window. Never claim "sent".
    return state if state in STATES else "unknown"


def sync_row(k: Kiosk, row: ResultRow, states: dict[str, str] | None) -> SyncRow:
    local = row.measured_at.astimezone(ZoneInfo(k.settings.timezone))
    state = state_of(states, row.reading_id)
    return SyncRow(local.strftime("%H:%M"), row.summary, row.urgent, state)


async def sync_rows(k: Kiosk, rows: list[ResultRow]) -> list[SyncRow]:
    states = await reading_states(k, [r.reading_id for r in rows])
    return [sync_row(k, r, states) for r in rows]


def own_counts(
    kader: str, day_list: list[tuple[Entry, list[ResultRow]]], states: dict[str, str] | None
) -> dict[str, int] | None:
    """How many of this kader's readings today are in each state (None: cannot say).

    A reading is the kader's who measured it; rows written before that was kept count for
    the kader who registered the resident.
    """
    if states is None:
        return None
    counts = dict.fromkeys((*STATES, "unknown"), 0)
    for entry, rows in day_list:
        for row in rows:
            if (row.kader or entry.kader) == kader:
                counts[state_of(states, row.reading_id)] += 1
    return counts


# Longest wait a login link can ask to be shown (the lockout itself is the limiter's).
_WAIT_SHOWN_MAX_S = 24 * 3600
_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_secret("", salt=bytes(16)))
    return _DUMMY_HASH[0]


def wait_phrase(seconds: float, lang: str) -> str:
    """A wait as "5 menit" / "25 detik": of a minute or more in whole minutes, rounded up."""
    whole = max(1, math.ceil(seconds))
    if whole >= 60:
        minutes = math.ceil(whole / 60)
        return text("wait_minute" if minutes == 1 else "wait_minutes", lang, n=minutes)
    return text("wait_second" if whole == 1 else "wait_seconds", lang, n=whole)


def login_message(m: str | None, wait: str | None, lang: str, *, failed: str) -> str | None:
    """The login page's message from its link: `m` says which, `w` the seconds to wait.

    The wait in the link is only shown (the limiter decides), so a bad one is dropped.
    """
    if m == "failed":
        return text(failed, lang)
    if m == "ended":
        return text("login_ended", lang)
    if m != "locked":
        return None
    try:
        seconds = int(wait or "")
    except ValueError:
        return text("login_locked", lang)
    if not 0 < seconds <= _WAIT_SHOWN_MAX_S:
        return text("login_locked", lang)
    return text("login_locked_wait", lang, wait=wait_phrase(seconds, lang))


def sync_counts(k: Kiosk) -> dict[str, object]:
    try:
        state = dict(k.deps.sync_state())
    except Exception:  # status must never take the page down
        _LOGGER.exception("sync_state() failed")
        return {"error": True}
    return state
