"""The referral worklist (/worklist): who to reach, by when, and what came of it.

Every list and export is scoped with `wilayah_clause`; a referral of another wilayah is a 404
by any URL. The only contact detail central holds is the sealed NIK: only Puskesmas and Dinkes
staff may reveal it, one explicit POST at a time, each reveal audited before it is shown, and
a CSV carries it only when asked for on a POST, audited likewise.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time.
import csv
import io
import logging
from typing import Annotated

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from central.referral_rules import Severity
from central.referrals import (
    TRANSITIONS,
    Referral,
    ReferralBook,
    ReferralError,
    Status,
    TransitionRefused,
    referrals,
)
from central.web.audit import Action
from central.web.auth import Principal, Role, require, wilayah_clause
from central.web.shared import Render, WebApp, client_address
from core.sealing import SealError, unseal

_LOGGER = logging.getLogger(__name__)

_LIST_LIMIT = 500
_CSV_LIMIT = 100_000
# A spreadsheet runs a cell starting with one of these as a formula: a note must stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTACT_ROLES = (Role.PUSKESMAS, Role.DINKES)
_ANY_ROLE = (Role.DINKES, Role.PUSKESMAS, Role.COORDINATOR)


def register(app: FastAPI, web: WebApp, render: Render) -> None:
    book = ReferralBook(web.engine, web.clock, web.settings.wilayah, web.settings.referral_rules)
    wilayah = web.settings.wilayah
    anyone = require(*_ANY_ROLE)
    contact = require(*_CONTACT_ROLES)

    def place(code: str | None) -> str:
        if code is None:
            return "—"
        found = wilayah.kelurahan.get(code)
        return f"{found.name} ({code})" if found else code

    def scoped(principal: Principal, referral_id: int) -> Referral:
        found = book.get(referral_id)
        if found is None or not principal.may_see(found.kelurahan):
            raise HTTPException(status_code=404)
        return found

    def chosen(status: str, severity: str) -> tuple[list[Status], list[Severity]]:
        statuses = [Status(status)] if status in {s.value for s in Status} else []
        severities = [Severity(severity)] if severity in {s.value for s in Severity} else []
        return statuses, severities

    @app.get("/worklist", response_class=HTMLResponse, name="nav_worklist")
    def worklist(
        request: Request,
        principal: Annotated[Principal, Depends(anyone)],
        status: Annotated[str, Query(max_length=20)] = "",
        severity: Annotated[str, Query(max_length=10)] = "",
    ) -> Response:
        book.refresh()
        statuses, severities = chosen(status, severity)
        rows = book.worklist(
            wilayah_clause(principal, referrals.c.kelurahan),
            statuses=statuses,
            severities=severities,
            limit=_LIST_LIMIT + 1,
        )
        web.auditor.audit(
            principal,
            Action.VIEW_WORKLIST,
            f"status={status or '*'} severity={severity or '*'} rows={min(len(rows), _LIST_LIMIT)}",
            client_address(request),
        )
        return render(
            request,
            "worklist.html",
            rows=rows[:_LIST_LIMIT],
            more=len(rows) > _LIST_LIMIT,
            place=place,
            # Not `status`: render() takes that name for the HTTP status.
            chosen_status=statuses[0].value if statuses else "",
            chosen_severity=severities[0].value if severities else "",
            statuses=[s.value for s in Status],
            severities=[s.value for s in Severity],
            today=book.today(),
            may_contact=principal.role in _CONTACT_ROLES,
        )

    def export(
        request: Request, principal: Principal, status: str, severity: str, with_nik: bool
    ) -> Response:
        statuses, severities = chosen(status, severity)
        rows = book.worklist(
            wilayah_clause(principal, referrals.c.kelurahan),
            statuses=statuses,
            severities=severities,
            limit=_CSV_LIMIT,
        )
        # Recorded before a byte of it leaves.
        web.auditor.audit(
            principal,
            Action.EXPORT_PERSONAL if with_nik else Action.EXPORT_WORKLIST,
            f"worklist.csv status={status or '*'} severity={severity or '*'} "
            f"rows={len(rows)} nik={'yes' if with_nik else 'no'}",
            client_address(request),
        )
        out = io.StringIO()
        writer = csv.writer(out)
        header = [
            "referral_id", "episode", "pseudonym", "kelurahan", "kelurahan_name", "severity",
            "status", "first_measured_at", "due_date", "overdue", "updated_by", "notes",
        ]  # fmt: skip
        if with_nik:
            header.append("nik")
        writer.writerow(header)
        for r in rows:
            found = wilayah.kelurahan.get(r.kelurahan or "")
            line = [
                str(r.id), str(r.episode), r.pseudonym, r.kelurahan or "",
                found.name if found else "", r.severity.value, r.status.value,
                r.first_measured_at, r.due_date.isoformat(), "yes" if r.overdue else "no",
                r.updated_by or "", _cell(r.notes),
            ]  # fmt: skip
            if with_nik:
                line.append(_nik_of(book, web.settings.nik_private_key, r.id) or "")
            writer.writerow(line)
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="rujukan.csv"'},
        )

    @app.get("/worklist.csv")
    def worklist_csv(
        request: Request,
        principal: Annotated[Principal, Depends(anyone)],
        status: Annotated[str, Query(max_length=20)] = "",
        severity: Annotated[str, Query(max_length=10)] = "",
    ) -> Response:
        book.refresh()
        return export(request, principal, status, severity, with_nik=False)

    @app.post("/worklist.csv")
    def worklist_csv_with_nik(
        request: Request,
        principal: Annotated[Principal, Depends(contact)],
        status: Annotated[str, Form(max_length=20)] = "",
        severity: Annotated[str, Form(max_length=10)] = "",
        include_nik: Annotated[str, Form(max_length=10)] = "",
    ) -> Response:
        book.refresh()
        return export(request, principal, status, severity, with_nik=include_nik == "yes")

    def detail(
        request: Request,
        principal: Principal,
        referral: Referral,
        *,
        status_code: int = 200,
        message: str = "",
        nik: str | None = None,
        nik_problem: str = "",
    ) -> HTMLResponse:
        linked = book.readings_of(referral.id)
        return render(
            request,
            "worklist_detail.html",
            status_code,
            r=referral,
            place=place,
            linked=linked,
            events=book.events_of(referral.id),
            next_statuses=sorted(s.value for s in TRANSITIONS[referral.status]),
            message=message,
            may_contact=principal.role in _CONTACT_ROLES,
            has_sealed=any(reading.sealed_nik for reading in linked),
            nik=nik,
            nik_problem=nik_problem,
            # Also shown in answer to a POST (a reveal, a refused change): its language links
            # reload the referral, not the POST route.
            here=f"/worklist/{referral.id}",
        )

    @app.get("/worklist/{referral_id}", response_class=HTMLResponse)
    def referral_page(
        request: Request,
        principal: Annotated[Principal, Depends(anyone)],
        referral_id: int,
    ) -> Response:
        referral = scoped(principal, referral_id)
        web.auditor.audit(
            principal, Action.VIEW_REFERRAL, f"referral {referral.id}", client_address(request)
        )
        return detail(request, principal, referral)

    @app.post("/worklist/{referral_id}/status", response_class=HTMLResponse)
    def change_status(
        request: Request,
        principal: Annotated[Principal, Depends(anyone)],
        referral_id: int,
        status: Annotated[str, Form(max_length=20)] = "",
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        referral = scoped(principal, referral_id)
        try:
            book.change(referral.id, status, principal.username, note)
        except TransitionRefused:
            return detail(request, principal, referral, status_code=409, message="wl_refused")
        except ReferralError:
            return detail(request, principal, referral, status_code=400, message="wl_refused")
        web.auditor.audit(
            principal,
            Action.UPDATE_REFERRAL,
            f"referral {referral.id} {referral.status.value}->{status}",
            client_address(request),
        )
        return RedirectResponse(f"/worklist/{referral.id}", status_code=303)

    @app.post("/worklist/{referral_id}/note", response_class=HTMLResponse)
    def add_note(
        request: Request,
        principal: Annotated[Principal, Depends(anyone)],
        referral_id: int,
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        referral = scoped(principal, referral_id)
        try:
            book.add_note(referral.id, principal.username, note)
        except ReferralError:
            return detail(request, principal, referral, status_code=400, message="wl_note_empty")
        web.auditor.audit(
            principal, Action.UPDATE_REFERRAL, f"referral {referral.id} note",
            client_address(request),
        )  # fmt: skip
        return RedirectResponse(f"/worklist/{referral.id}", status_code=303)

    @app.post("/worklist/{referral_id}/nik", response_class=HTMLResponse)
    def reveal_nik(
        request: Request,
        principal: Annotated[Principal, Depends(contact)],
        referral_id: int,
    ) -> Response:
        referral = scoped(principal, referral_id)
        key = web.settings.nik_private_key
        if key is None:
            return detail(request, principal, referral, nik_problem="wl_nik_no_key")
        sealed = [r.sealed_nik for r in book.readings_of(referral.id) if r.sealed_nik]
        if not sealed:
            return detail(request, principal, referral, nik_problem="wl_nik_none")
        # Recorded before the NIK is on anyone's screen.
        web.auditor.audit(
            principal, Action.REVEAL_NIK, f"referral {referral.id}", client_address(request)
        )
        try:
            nik = unseal(sealed[-1], key)
        except SealError as exc:
            _LOGGER.warning(
                "worklist: referral %d: the sealed NIK does not open: %s", referral.id, exc
            )
            return detail(request, principal, referral, nik_problem="wl_nik_bad")
        return detail(request, principal, referral, nik=nik)


def _nik_of(book: ReferralBook, key: bytes | None, referral_id: int) -> str | None:
    if key is None:
        return None
    sealed = [r.sealed_nik for r in book.readings_of(referral_id) if r.sealed_nik]
    if not sealed:
        return None
    try:
        return unseal(sealed[-1], key)
    except SealError:
        return None


def _cell(text: str) -> str:
    text = text.replace("\r", " ").replace("\n", " / ")
    return "'" + text if text.startswith(_FORMULA_START) else text
