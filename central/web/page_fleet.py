"""/fleet: every gateway (kiosk or kit) central has a status of, and /fleet/<id>, one of them.

The rows come from the fleet table the FleetMonitor keeps from the retained statuses and Last
Wills (central/fleet.py); alarms are evaluated here with the app's clock, so a gateway that
went silent shows "not heard from" without anything writing to the table.

Scope: a gateway is placed by its site (central/wilayah.py). A Puskesmas or coordinator
account sees only gateways whose site lies in its kelurahan; a site in no kelurahan is seen
by Dinkes only. A gateway outside the caller's scope answers 404 by any URL, as one that does
not exist, so its id is not confirmed.

The list refreshes itself: static/fleet.js fetches /fleet/-/rows (the same table, alone)
every ~2 s and swaps it in, so a Last Will shows within seconds; without script the page
offers a reload link. `-` cannot be a gateway id in the path (an id never holds "/").
Gateway status is not personal data, so a view is not audited.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time.
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from central import fleet_rules
from central.fleet_store import KINDS, STATES
from central.fleet_views import FleetFilter, FleetRow, SortKey, fleet_list, gateway_detail
from central.web.auth import Principal, Role, require
from central.web.i18n import TEXTS, text
from central.web.shared import Render, WebApp

_ROLES = (Role.DINKES, Role.PUSKESMAS, Role.COORDINATOR)
# The kinds of alarm a person can filter on (FleetRow alarm `rule`s), worst first.
ALARM_RULES = (
    "offline",
    "not_seen",
    "outbox_full",
    "storage_error",
    "clock_untrusted",
    "kit_unsynced",
    "device_silent",
    "device_error",
    "reported",
)
POLL_MS = 2000


PAGE_ROWS = 100


def ago_text(seconds: float | None, lang: str) -> str:
    """A short "how long ago / how old" in the user's language; "—" for nothing."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if s < 60:
        return text("fleet_dur_s", lang, n=s)
    if s < 3600:
        return text("fleet_dur_m", lang, n=s // 60)
    if s < 86400:
        return text("fleet_dur_h", lang, n=s // 3600, m=(s % 3600) // 60)
    return text("fleet_dur_d", lang, n=s // 86400, h=(s % 86400) // 3600)


def aged_oldest(row: FleetRow, now: float) -> float | None:
    """The oldest unconfirmed reading's age now: the gateway said it when it last spoke, and
    it keeps ageing while the gateway is silent (as the kit_unsynced rule counts it)."""
    age = row.oldest_unconfirmed_age_s
    return None if age is None else age + max(0.0, now - row.last_seen)


def _known_or_raw(prefix: str, code: str, lang: str) -> str:
    # A code from a newer gateway than this central has no text yet: show the code itself.
    key = f"{prefix}{code}"
    return text(key, lang) if key in TEXTS else code


def register(app: FastAPI, web: WebApp, render: Render) -> None:
    allowed = require(*_ROLES)
    wilayah = web.settings.wilayah

    def visible(principal: Principal, row: FleetRow) -> bool:
        return principal.may_see(wilayah.kelurahan_of_site(row.site_id))

    def place(site_id: str | None) -> str:
        if not site_id:
            return "—"
        site = wilayah.sites.get(site_id)
        if site is None:
            return site_id
        kel = wilayah.kelurahan.get(site.kelurahan)
        return f"{site.name} · {kel.name}" if kel else site.name

    def helpers(lang: str, now: float) -> dict[str, Callable[..., str]]:
        def ago(at: float | None) -> str:
            return "—" if at is None else text("fleet_ago", lang, d=ago_text(now - at, lang))

        return {
            "ago": ago,
            "dur": lambda seconds: ago_text(seconds, lang),
            "oldest": lambda row: ago_text(aged_oldest(row, now), lang),
            "alarm_text": lambda key: fleet_rules.text(key, "en" if lang == "en" else "id"),
            "reason_text": lambda code: _known_or_raw("fleet_reason_", code, lang),
            "event_text": lambda kind: _known_or_raw("fleet_event_", kind, lang),
            "place": place,
        }

    def listing(
        request: Request,
        principal: Annotated[Principal, Depends(allowed)],
        sort: Annotated[str, Query(max_length=20)] = "",
        desc: Annotated[str, Query(max_length=1)] = "",
        state: Annotated[str, Query(max_length=10)] = "",
        kind: Annotated[str, Query(max_length=10)] = "",
        alarm: Annotated[str, Query(max_length=30)] = "",
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    ) -> dict[str, Any]:
        lang = getattr(request.state, "lang", "id")
        key = SortKey(sort) if sort in {k.value for k in SortKey} else SortKey.NAME
        descending = desc == "1"
        chosen = FleetFilter(
            state=state if state in STATES else None,
            kind=kind if kind in KINDS else None,
            alarm=alarm if alarm in ALARM_RULES or alarm == "any" else None,
        )
        now = web.clock()
        rows = [
            r
            for r in fleet_list(web.engine, now, filters=chosen, sort=key, descending=descending)
            if visible(principal, r)
        ]
        query = {
            "state": chosen.state or "",
            "kind": chosen.kind or "",
            "alarm": chosen.alarm or "",
        }

        def sort_link(column: str) -> str:
            # The column already sorted flips direction; another starts ascending.
            flip = "1" if column == key.value and not descending else ""
            return "/fleet?" + urlencode({**query, "sort": column, "desc": flip})

        # A city's 500 gateways in one table are ~400 KB; the summary still counts them all.
        pages = max(1, -(-len(rows) // PAGE_ROWS))
        page = min(max(page, 1), pages)
        here = {**query, "sort": key.value, "desc": "1" if descending else ""}
        return {
            "rows": rows[(page - 1) * PAGE_ROWS : page * PAGE_ROWS],
            "total": len(rows),
            "page": page,
            "pages": pages,
            "page_link": lambda n: "/fleet?" + urlencode({**here, "page": n}),
            "now": now,
            "online": sum(r.state == "online" for r in rows),
            "offline": sum(r.state == "offline" for r in rows),
            "alarmed": sum(bool(r.alarms) for r in rows),
            "sort": key.value,
            "descending": descending,
            "sort_link": sort_link,
            "sort_keys": [k.value for k in SortKey],
            "chosen": query,
            "states": STATES,
            "kinds": KINDS,
            "alarm_rules": ALARM_RULES,
            "self_query": urlencode({**here, "page": page}),
            "poll_ms": POLL_MS,
            **helpers(lang, now),
        }

    # The page and the fragment its poller fetches take the same query: `listing` reads it.
    @app.get("/fleet", response_class=HTMLResponse, name="nav_fleet")
    def fleet_page(
        request: Request, context: Annotated[dict[str, Any], Depends(listing)]
    ) -> Response:
        return render(request, "fleet.html", **context)

    @app.get("/fleet/-/rows", response_class=HTMLResponse)
    def fleet_rows(
        request: Request, context: Annotated[dict[str, Any], Depends(listing)]
    ) -> Response:
        return render(request, "fleet_rows.html", **context)

    @app.get("/fleet/{gateway_id}", response_class=HTMLResponse)
    def gateway_page(
        request: Request,
        principal: Annotated[Principal, Depends(allowed)],
        gateway_id: str,
    ) -> Response:
        lang = getattr(request.state, "lang", "id")
        now = web.clock()
        if len(gateway_id) > 100:  # the table's key is at most 100 characters
            raise HTTPException(status_code=404)
        detail = gateway_detail(web.engine, gateway_id, now)
        if detail is None or not visible(principal, detail.row):
            raise HTTPException(status_code=404)
        site = wilayah.sites.get(detail.row.site_id or "")
        return render(
            request,
            "fleet_detail.html",
            detail=detail,
            gw=detail.row,
            kelurahan=site.kelurahan if site else None,
            now=now,
            **helpers(lang, now),
        )
