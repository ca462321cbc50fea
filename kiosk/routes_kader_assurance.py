"""The kader's side of kit assurance (issue 14 item 4): "Mutu alat" on the kader's phone.

The list shows every device of the kit with its policy state and why; a glucometer's page
takes what the kader reads off the strip box and the control-solution vial (strip lot and
expiry, the vial's range, lot and expiry) and shows its QC log judged against that range.

A BP monitor's validation due date is shown, not edited, here: it is set on the operator page
(`/admin/mutu`), which is the one page that can enter it, after the monitor has been checked
against a reference; a kader's save keeps whatever date the operator entered. The book, the
form parser and its messages are the operator page's (kiosk/assurance_forms.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kiosk.assurance_forms import (
    EntryError,
    device_state,
    device_states,
    expired_on_save,
    find_device,
    form_values,
    parse_entries,
    qc_rows,
    status_rows,
    typed_values,
)
from kiosk.context import Kiosk, flash_redirect, form_fields, redirect, take_flash
from kiosk.routes_kader import COOKIE
from kiosk.security import tokens_match
from kiosk.sessions import Login

# The phone shows the latest tests; the operator page has the whole log.
QC_SHOWN = 20


def router(k: Kiosk) -> APIRouter:
    r = APIRouter(prefix="/kader/mutu")

    def login_of(request: Request) -> Login | None:
        return k.kaders.get(request.cookies.get(COOKIE))

    def device_page(
        request: Request,
        login: Login,
        row: Mapping[str, Any],
        *,
        values: dict[str, str] | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        desk = k.deps.assurance
        if desk is None:
            return redirect("/kader/mutu")
        name = str(row["name"])
        entries = desk.entries(name)
        qc = desk.qc_log(name)
        # A refused form shows its error alone, not the message of the save before it.
        flash = take_flash(login, "" if error else request.url.path)
        return k.render(
            request,
            "kader_mutu_device.html",
            login.lang,
            status_code=status_code,
            login=login,
            flash=flash,
            dev=device_state(row, login.lang),
            entries=entries,
            values=values if values is not None else form_values(entries),
            qc=qc_rows(qc, ZoneInfo(k.settings.timezone), QC_SHOWN),
            qc_total=len(qc),
            error=error,
        )

    @r.get("")
    async def device_list(request: Request) -> Response:
        login = login_of(request)
        if login is None:
            return redirect("/kader/masuk")
        kept = k.deps.assurance is not None
        rows = status_rows(k.deps.device_status) if kept else []
        return k.render(
            request,
            "kader_mutu.html",
            login.lang,
            login=login,
            flash=take_flash(login, request.url.path),
            kept=kept,
            devices=device_states(rows, login.lang),
        )

    @r.get("/{name}")
    async def show(request: Request, name: str) -> Response:
        login = login_of(request)
        if login is None:
            return redirect("/kader/masuk")
        row = find_device(status_rows(k.deps.device_status), name)
        if row is None or k.deps.assurance is None:
            return redirect("/kader/mutu")
        return device_page(request, login, row)

    @r.post("/{name}")
    async def save(request: Request, name: str) -> Response:
        login = login_of(request)
        form = dict(await form_fields(request))
        if login is None or not tokens_match(form.get("csrf"), login.csrf):
            return redirect("/kader/masuk")
        desk = k.deps.assurance
        row = find_device(status_rows(k.deps.device_status), name)
        if desk is None or row is None:
            return redirect("/kader/mutu")
        if row.get("kind") == "blood_pressure":
            return redirect(f"/kader/mutu/{name}")  # nothing on a BP monitor is the kader's
        try:
            parsed = parse_entries(form)
        except EntryError as exc:
            return device_page(
                request,
                login,
                row,
                values=typed_values(form),
                error=exc.message(login.lang),
                status_code=400,
            )
        # The validation date is the operator's: whatever the form carried, keep the book's.
        entries = dataclasses.replace(parsed, calibration_due=desk.entries(name).calibration_due)
        # The book is fsync'd to disk: off the event loop.
        await asyncio.to_thread(desk.set_entries, name, entries)
        key = "mutu_saved_expired" if expired_on_save(entries, k.today()) else "mutu_saved"
        return flash_redirect(login, key, f"/kader/mutu/{name}")

    return r
