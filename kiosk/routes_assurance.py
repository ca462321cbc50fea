"""The operator's assurance page per device: calibration due date, strip lot and expiry, the
control vial's range, and the meter's QC log (control-solution tests, never residents')."""

from __future__ import annotations

import asyncio
import logging
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core.assurance import ControlRange, Entries
from kiosk.context import Kiosk, form_fields, redirect
from kiosk.routes_admin import COOKIE
from kiosk.security import tokens_match

_LOGGER = logging.getLogger(__name__)


class EntryError(ValueError):
    """A field the operator typed cannot be read; `key` is its i18n message."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _date(form: dict[str, str], name: str) -> date | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise EntryError("mutu_bad_date") from None


def _number(form: dict[str, str], name: str) -> float | None:
    raw = form.get(name, "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise EntryError("mutu_bad_range") from None


def parse_entries(form: dict[str, str]) -> Entries:
    low, high = _number(form, "control_low"), _number(form, "control_high")
    if (low is None) != (high is None):
        raise EntryError("mutu_bad_range")
    control = None
    if low is not None and high is not None:
        try:
            control = ControlRange(
                low, high, lot=form.get("control_lot", "").strip() or None,
                expires=_date(form, "control_expires"),
            )
        except EntryError:
            raise
        except ValueError:
            raise EntryError("mutu_bad_range") from None
    return Entries(
        calibration_due=_date(form, "calibration_due"),
        strip_lot=form.get("strip_lot", "").strip() or None,
        strip_expires=_date(form, "strip_expires"),
        control=control,
    )


def router(k: Kiosk) -> APIRouter:
    r = APIRouter(prefix="/admin/mutu")

    def known(name: str) -> bool:
        return any(d.get("name") == name for d in k.deps.device_status())

    def page(request: Request, name: str, lang: str, csrf: str, error: str | None = None,
             status_code: int = 200) -> Response:
        desk = k.deps.assurance
        if desk is None:
            return redirect("/admin")
        return k.render(
            request, "admin_assurance.html", lang, status_code=status_code,
            device=name, entries=desk.entries(name), qc=list(reversed(desk.qc_log(name))),
            csrf=csrf, error=error,
        )

    @r.get("/{name}")
    async def show(request: Request, name: str) -> Response:
        login = k.admins.get(request.cookies.get(COOKIE))
        if login is None:
            return redirect("/admin/masuk")
        if not known(name):
            return redirect("/admin")
        return page(request, name, login.lang, login.csrf)

    @r.post("/{name}")
    async def save(request: Request, name: str) -> Response:
        login = k.admins.get(request.cookies.get(COOKIE))
        form = dict(await form_fields(request))
        if login is None or not tokens_match(form.get("csrf"), login.csrf):
            return redirect("/admin/masuk")
        desk = k.deps.assurance
        if desk is None or not known(name):
            return redirect("/admin")
        try:
            entries = parse_entries(form)
        except EntryError as exc:
            return page(request, name, login.lang, login.csrf, exc.key, status_code=400)
        # The book is fsync'd to disk: off the event loop.
        await asyncio.to_thread(desk.set_entries, name, entries)
        return redirect(f"/admin/mutu/{name}?saved=1")

    return r
