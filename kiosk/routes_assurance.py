"""The operator's assurance page per device: calibration due date, strip lot and expiry, the
control vial's range, and the meter's QC log (control-solution tests, never residents').

The form, its messages and the device state are shared with the kader's pages
(kiosk/assurance_forms.py, kiosk/routes_kader_assurance.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kiosk.assurance_forms import (
    EntryError,
    device_state,
    find_device,
    form_values,
    parse_entries,
    qc_rows,
    status_rows,
    typed_values,
)
from kiosk.context import Kiosk, form_fields, redirect
from kiosk.routes_admin import COOKIE
from kiosk.security import tokens_match


def router(k: Kiosk) -> APIRouter:
    r = APIRouter(prefix="/admin/mutu")

    def page(
        request: Request,
        row: Mapping[str, Any],
        lang: str,
        csrf: str,
        *,
        values: dict[str, str] | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        desk = k.deps.assurance
        if desk is None:
            return redirect("/admin")
        name = str(row["name"])
        entries = desk.entries(name)
        qc = desk.qc_log(name)
        return k.render(
            request,
            "admin_assurance.html",
            lang,
            status_code=status_code,
            device=name,
            dev=device_state(row, lang),
            entries=entries,
            values=values if values is not None else form_values(entries),
            qc=qc_rows(qc, ZoneInfo(k.settings.timezone)),
            qc_total=len(qc),
            csrf=csrf,
            error=error,
            saved=request.query_params.get("saved") == "1" and error is None,
        )

    @r.get("/{name}")
    async def show(request: Request, name: str) -> Response:
        login = k.admins.get(request.cookies.get(COOKIE))
        if login is None:
            return redirect("/admin/masuk")
        row = find_device(status_rows(k.deps.device_status), name)
        if row is None:
            return redirect("/admin")
        return page(request, row, login.lang, login.csrf)

    @r.post("/{name}")
    async def save(request: Request, name: str) -> Response:
        login = k.admins.get(request.cookies.get(COOKIE))
        form = dict(await form_fields(request))
        if login is None or not tokens_match(form.get("csrf"), login.csrf):
            return redirect("/admin/masuk")
        desk = k.deps.assurance
        row = find_device(status_rows(k.deps.device_status), name)
        if desk is None or row is None:
            return redirect("/admin")
        try:
            entries = parse_entries(form)
        except EntryError as exc:
            return page(
                request,
                row,
                login.lang,
                login.csrf,
                values=typed_values(form),
                error=exc.message(login.lang),
                status_code=400,
            )
        # The book is fsync'd to disk: off the event loop.
        await asyncio.to_thread(desk.set_entries, name, entries)
        return redirect(f"/admin/mutu/{name}?saved=1")

    return r
