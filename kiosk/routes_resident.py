"""The resident's flow at the kiosk screen.

language -> consent (adult, or guardian for 15–17) -> NIK + birth year -> choose tests ->
instructions -> measuring (live) -> result -> "Selesai". Every step is a GET page and a POST
that redirects (303), so the browser never holds a form to re-submit, and every page is
re-rendered from server state: once the visit ends, nothing of it can be shown again.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import QueryParams

from core.reading import Kind, Subject
from kiosk.consent import GUARDIAN_SUFFIX, consent_text
from kiosk.context import Kiosk, flash_redirect, form_fields, redirect, take_flash
from kiosk.deps import KioskSettings
from kiosk.identify import IdentifyError, identify_resident
from kiosk.measure import Measurement, MeasurementBoard, StartError, State
from kiosk.results import build_view, qr_svg, qr_text
from kiosk.security import tokens_match
from kiosk.sessions import Visit

COOKIE = "gk_visit"
_START_MESSAGES = frozenset({"idle", "ended"})
# How long a status request with `?seen` may hold an answer back: short, so a stopping
# server (which lets open requests finish) is not held up, and a timeout shows soon.
LONG_POLL_S = 2.0
_LANG_TARGETS = frozenset(
    {"/persetujuan", "/persetujuan/wali", "/identitas", "/pilih", "/petunjuk", "/ukur", "/hasil"}
)


class NoVisitError(Exception):
    """A visit's POST without a live visit or with a wrong CSRF token: back to the start.

    Raised by the route dependency; `kiosk.app` answers it with `back_to_start`.
    """


async def back_to_start(_: Request, __: Exception) -> Response:
    return redirect("/")


@dataclasses.dataclass(frozen=True, slots=True)
class CheckedVisit:
    visit: Visit
    form: Mapping[str, str]


def router(k: Kiosk) -> APIRouter:
    r = APIRouter()

    def visit_of(request: Request) -> Visit | None:
        return k.visits.get(request.cookies.get(COOKIE))

    def page(
        request: Request, visit: Visit, name: str, *, idle_s: float | None = None, **context: Any
    ) -> Response:
        flash = take_flash(visit, request.url.path)
        return k.render(
            request,
            name,
            visit.lang,
            idle_url="/habis",
            idle_s=k.settings.idle_timeout_s if idle_s is None else idle_s,
            kiosk_screen=True,
            visit=visit,
            flash=flash,
            **context,
        )

    def end_visit(request: Request) -> None:
        visit = k.visits.end(request.cookies.get(COOKIE))
        if visit is not None:
            k.board.forget(visit.visit_id)

    async def checked_visit(request: Request) -> CheckedVisit:
        """The guard of every POST in a visit: a live visit and its CSRF token in the form."""
        visit = visit_of(request)
        if visit is None:
            raise NoVisitError
        form = await form_fields(request)
        if not tokens_match(form.get("csrf"), visit.csrf):
            raise NoVisitError
        return CheckedVisit(visit, form)

    guard = Depends(checked_visit)

    @r.get("/")
    async def welcome(request: Request, m: str | None = None) -> Response:
        end_visit(request)
        message = m if m in _START_MESSAGES else None
        response = k.render(
            request, "welcome.html", k.settings.languages[0], message=message, kiosk_screen=True
        )
        response.delete_cookie(COOKIE)
        return response

    @r.post("/mulai")
    async def start(request: Request) -> Response:
        end_visit(request)
        form = await form_fields(request)
        visit = Visit(lang=k.lang_or_default(form.get("lang")))
        token = k.visits.create(visit)
        response = redirect("/persetujuan")
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    @r.post("/bahasa")
    async def switch_language(checked: CheckedVisit = guard) -> Response:
        visit, form = checked.visit, checked.form
        visit.lang = k.lang_or_default(form.get("lang"))
        target = form.get("next", "")
        return redirect(target if target in _LANG_TARGETS else "/persetujuan")

    def consent_page(request: Request, template: str) -> Response:
        visit = visit_of(request)
        if visit is None:
            return redirect("/")
        text = consent_text(k.settings.consent_version, visit.lang)
        return page(request, visit, template, consent=text, place=k.settings.puskesmas_name)

    @r.get("/persetujuan")
    async def consent(request: Request) -> Response:
        return consent_page(request, "consent.html")

    @r.get("/persetujuan/wali")
    async def consent_guardian(request: Request) -> Response:
        return consent_page(request, "guardian.html")

    @r.post("/persetujuan")
    async def consent_given(checked: CheckedVisit = guard) -> Response:
        visit, form = checked.visit, checked.form
        if form.get("choice") == "guardian":
            if form.get("guardian_confirm") != "yes":
                return flash_redirect(visit, "guardian_required", "/persetujuan/wali")
            visit.guardian = True
            visit.consent_version = k.settings.consent_version + GUARDIAN_SUFFIX
        elif form.get("choice") == "adult":
            visit.guardian = False
            visit.consent_version = k.settings.consent_version
        else:
            return redirect("/persetujuan")
        visit.consent_at = k.now()
        if visit.subject is not None:  # came back from the minor check: already identified
            return redirect("/pilih" if consent_ok(visit) else "/persetujuan/wali")
        return redirect("/identitas")

    @r.get("/identitas")
    async def identify(request: Request) -> Response:
        visit = visit_of(request)
        if visit is None:
            return redirect("/")
        if visit.consent_version is None:
            return redirect("/persetujuan")
        return page(request, visit, "identify.html")

    @r.post("/identitas")
    async def identified(checked: CheckedVisit = guard) -> Response:
        visit, form = checked.visit, checked.form
        if visit.consent_version is None:
            return redirect("/persetujuan")
        try:
            who = identify_resident(form, k.settings, k.today())
        except IdentifyError as exc:
            return flash_redirect(visit, exc.key, "/identitas")
        visit.subject = Subject(
            pseudonym=who.pseudonym,
            sealed_nik=who.sealed_nik,
            session_id=visit.visit_id,
            region=who.region,
            sex=who.sex,
            age_band=who.age_band,
        )
        visit.masked_nik = who.masked_nik
        visit.minor = who.minor
        if not consent_ok(visit):
            return flash_redirect(visit, "guardian_needed", "/persetujuan/wali")
        return redirect("/pilih")

    @r.get("/pilih")
    async def choose(request: Request) -> Response:
        visit = visit_of(request)
        if visit is None:
            return redirect("/")
        if not ready(visit):
            return redirect("/identitas")
        devices = k.devices()
        return page(
            request,
            visit,
            "choose.html",
            has_bp=bool(devices[Kind.BLOOD_PRESSURE]),
            has_glucose=bool(devices[Kind.GLUCOSE]),
        )

    @r.post("/pilih")
    async def chosen(checked: CheckedVisit = guard) -> Response:
        visit, form = checked.visit, checked.form
        if not ready(visit):
            return redirect("/identitas")
        plan = [kind.value for kind in (Kind.BLOOD_PRESSURE, Kind.GLUCOSE) if form.get(kind.value)]
        if not plan:
            return flash_redirect(visit, "choose_one", "/pilih")
        if Kind.GLUCOSE.value in plan:
            if form.get("fasting") not in ("yes", "no"):
                return flash_redirect(visit, "fasting_required", "/pilih")
            visit.fasting = form.get("fasting") == "yes"
        visit.plan = plan
        return redirect("/petunjuk")

    @r.get("/petunjuk")
    async def instructions(request: Request) -> Response:
        visit = visit_of(request)
        if visit is None:
            return redirect("/")
        if not ready(visit):
            return redirect("/identitas")
        if not visit.plan:
            return redirect("/hasil" if k.board.results(visit.visit_id) else "/pilih")
        return page(request, visit, "instructions.html", kind=visit.plan[0])

    @r.post("/ukur")
    async def measure(checked: CheckedVisit = guard) -> Response:
        visit = checked.visit
        if not ready(visit) or not visit.plan or visit.subject is None:
            return redirect("/petunjuk")
        kind = Kind(visit.plan[0])
        subject = dataclasses.replace(
            visit.subject,
            consent_version=visit.consent_version,
            consent_at=visit.consent_at,
            performer="self",
        )
        plan = visit.plan

        def done(measurement: Measurement) -> None:
            if measurement.kind.value in plan:
                plan.remove(measurement.kind.value)

        try:
            k.board.start(
                subject,
                kind,
                fasting=visit.fasting if kind is Kind.GLUCOSE else None,
                on_done=done,
            )
        except StartError as exc:
            return flash_redirect(visit, exc.key, "/petunjuk")
        return redirect("/ukur")

    @r.get("/ukur")
    async def measuring(request: Request) -> Response:
        visit = visit_of(request)
        if visit is None:
            return redirect("/")
        current = k.board.current(visit.visit_id)
        if current is None:
            return redirect("/petunjuk")
        if current.state is State.DONE:
            return redirect("/hasil")
        idle_s, keepalive_ms = measuring_idle(k.settings, current)
        return page(
            request,
            visit,
            "measuring.html",
            idle_s=idle_s,
            keepalive_ms=keepalive_ms,
            measurement=current,
            status_url="/ukur/status",
            done_url="/hasil",
            retry_url="/ukur",
            back_url="/petunjuk",
        )

    @r.post("/ukur/batal")
    async def cancel_measurement(checked: CheckedVisit = guard) -> Response:
        # "Batal": this measurement only (the device is freed); the visit goes on at the choice.
        visit = checked.visit
        k.board.cancel(visit.visit_id)
        return redirect("/pilih")

    @r.get("/ukur/status")
    async def measuring_status(request: Request) -> Response:
        visit = visit_of(request)
        if visit is None:
            return JSONResponse({"state": "ended"})
        reply = await status_reply(k.board, visit.visit_id, request.query_params)
        # The long poll held this request: count the visit as seen when the answer leaves,
        # not only when it came in, so a waiting screen is never idle on the server.
        visit_of(request)
        return JSONResponse(reply)

    @r.get("/hasil")
    async def result(request: Request) -> Response:
        visit = visit_of(request)
        if visit is None:
            return redirect("/")
        done = k.board.results(visit.visit_id)
        if not done:
            return redirect("/petunjuk")
        views = [build_view(m, k.thresholds, k.settings, visit.lang) for m in done]
        qr = qr_svg(qr_text(views, k.settings, visit.lang))
        return page(
            request,
            visit,
            "result.html",
            views=views,
            qr=qr,
            next_kind=visit.plan[0] if visit.plan else None,
            puskesmas=k.settings,
        )

    @r.post("/selesai")
    async def finish(request: Request) -> Response:
        # No CSRF check: ending a visit early is always safe, and must always work.
        end_visit(request)
        response = redirect("/?m=ended")
        response.delete_cookie(COOKIE)
        return response

    @r.get("/habis")
    async def idle_timeout(request: Request) -> Response:
        end_visit(request)
        response = redirect("/?m=idle")
        response.delete_cookie(COOKIE)
        return response

    return r


def measuring_idle(settings: KioskSettings, current: Measurement) -> tuple[float, int]:
    """(idle wipe after s, keep-alive period in ms) for the measuring screen.

    While a device measures, the resident sits still on purpose: no idle wipe (the
    measurement timeout ends that wait). On "belum ada hasil" the resident is often busy with
    the cuff or the meter rather than the screen, so the wipe waits the device's whole timeout
    on top of the usual idle time, and the page keeps the visit alive on the server meanwhile
    (a browser that is gone still loses it after the usual idle time).
    """
    if current.state is State.WAITING:
        return 0.0, 0
    idle = settings.idle_timeout_s
    keepalive_ms = int(min(idle / 3, 20.0) * 1000)
    return idle + settings.measurement_timeout_s, keepalive_ms


def consent_ok(visit: Visit) -> bool:
    return visit.consent_version is not None and (visit.guardian or not visit.minor)


def ready(visit: Visit) -> bool:
    return visit.subject is not None and consent_ok(visit)


async def status_reply(board: MeasurementBoard, key: str, query: QueryParams) -> dict[str, object]:
    """The measuring page's status. With `?seen=<status_token>` (what the page shows now) the
    answer is held back until it differs (a long poll, at most LONG_POLL_S), so a stored
    result reaches the screen at once and no cuff update between two requests is lost."""
    status = status_json(board.current(key))
    seen = query.get("seen")
    if seen is None:
        return status
    try:
        async with asyncio.timeout(LONG_POLL_S):
            while status["state"] == State.WAITING.value and status_token(status) == seen:
                await board.next_change()
                status = status_json(board.current(key))
    except TimeoutError:
        status = status_json(board.current(key))  # also notices a measurement timeout
    return status


def status_token(status: Mapping[str, object]) -> str:
    """What the page sends back as `seen`; measuring.html builds the same string."""
    mmhg = status.get("mmhg")
    again = ":again" if status.get("again") else ""
    return f"{status['state']}:{'' if mmhg is None else mmhg}{again}"


def status_json(current: Measurement | None) -> dict[str, object]:
    if current is None:
        return {"state": "none"}
    mmhg = None if current.cuff_mmhg is None else round(current.cuff_mmhg)
    status: dict[str, object] = {"state": current.state.value, "mmhg": mmhg}
    if current.again:  # only then: the key's absence keeps older pages' answers unchanged
        status["again"] = True
    return status
