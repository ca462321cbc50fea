"""/cascade: screening counts by period and place, drilled city -> kecamatan -> kelurahan -> site.

Aggregates only (counts of pseudonyms, never a resident), so a view is not audited. A place is
limited to the principal's kelurahan before anything is counted: a Puskesmas user naming a
kecamatan, kelurahan or site outside their wilayah gets a 404, as for one that does not exist.
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations at run time.
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from central import cascade_cache
from central.cascade import (
    DEFAULT_ZONE,
    Level,
    Period,
    resolve_place,
    window,
)
from central.cascade_rules import BP_CATEGORIES, GLUCOSE_CATEGORIES
from central.web.auth import Principal, Role, require
from central.web.i18n import text
from central.web.shared import Render, WebApp
from central.web.svg import Bar, bar_chart, stacked_bar
from central.wilayah import Wilayah

_ROLES = (Role.DINKES, Role.PUSKESMAS, Role.COORDINATOR)


def register(app: FastAPI, web: WebApp, render: Render) -> None:
    allowed = require(*_ROLES)

    @app.get("/cascade", response_class=HTMLResponse)
    def cascade_page(
        request: Request,
        principal: Annotated[Principal, Depends(allowed)],
        period: Annotated[Period, Query()] = Period.MONTH,
        on: Annotated[str, Query(max_length=10, alias="date")] = "",
        kecamatan: Annotated[str, Query(max_length=6)] = "",
        kelurahan: Annotated[str, Query(max_length=10)] = "",
        site: Annotated[str, Query(max_length=100)] = "",
    ) -> Response:
        lang = getattr(request.state, "lang", "id")
        wilayah = web.settings.wilayah
        today = datetime.fromtimestamp(web.clock(), DEFAULT_ZONE).date()
        try:
            day = date.fromisoformat(on) if on else today
        except ValueError:
            raise HTTPException(status_code=400) from None
        visible = None if principal.whole_city else principal.wilayah
        place = resolve_place(wilayah, visible, kecamatan=kecamatan, kelurahan=kelurahan, site=site)
        if place is None:
            raise HTTPException(status_code=404)
        result = cascade_cache.cascade(
            web.engine, wilayah, window(period, day), place, whole_city=principal.whole_city
        )
        c = result.counts

        def t(key: str) -> str:
            return text(key, lang)

        count_headers = (t("cascade_category"), t("cascade_residents"))
        charts = [
            stacked_bar(
                "sex",
                t("cascade_by_sex"),
                t("cascade_by_sex_desc"),
                [Bar(t(f"cascade_sex_{k}"), v) for k, v in c.by_sex.items()],
                count_headers,
            ),
            bar_chart(
                "age",
                t("cascade_by_age"),
                t("cascade_by_age_desc"),
                [Bar(_age_label(k, lang), v) for k, v in c.by_age_band.items()],
                count_headers,
            ),
            bar_chart(
                "bp",
                t("cascade_bp"),
                t("cascade_bp_desc"),
                [Bar(t(f"cascade_bp_{k}"), c.bp[k]) for k in BP_CATEGORIES],
                count_headers,
            ),
            bar_chart(
                "glucose",
                t("cascade_glucose"),
                t("cascade_glucose_desc"),
                [Bar(t(f"cascade_glucose_{k}"), c.glucose[k]) for k in GLUCOSE_CATEGORIES],
                count_headers,
            ),
        ]
        trail = _trail(wilayah, place.level, place.code)
        return render(
            request,
            "cascade.html",
            result=result,
            counts=c,
            charts=charts,
            trail=trail,
            period=period.value,
            periods=[p.value for p in Period],
            day=day.isoformat(),
            level=place.level.value,
            child_param={
                Level.CITY: "kecamatan",
                Level.KECAMATAN: "kelurahan",
                Level.KELURAHAN: "site",
            }.get(place.level, ""),
        )


def _age_label(band: str, lang: str) -> str:
    return text("cascade_unknown", lang) if band == "unknown" else band


def _trail(wilayah: Wilayah, level: Level, code: str) -> list[tuple[str, dict[str, str]]]:
    """(name, query) of the places above this one, for the drill-down's way back up; the city
    is the empty name."""
    if level is Level.CITY:
        return []
    trail: list[tuple[str, dict[str, str]]] = [("", {})]
    if level is Level.KECAMATAN:
        return trail
    kel_code = wilayah.sites[code].kelurahan if level is Level.SITE else code
    kec_code = wilayah.kelurahan[kel_code].kecamatan
    trail.append((wilayah.kecamatan[kec_code].name, {"kecamatan": kec_code}))
    if level is Level.SITE:
        trail.append((wilayah.kelurahan[kel_code].name, {"kelurahan": kel_code}))
    return trail
