"""/quality: what came in during a period that needs a look, per gateway and per device.

Counts only (no resident, no payload), so a view is not audited. A gateway belongs to the
kelurahan of its site (the fleet table's `site_id` in the wilayah file): a Puskesmas user or a
coordinator sees the gateways of their wilayah's sites, and any other gateway, named by URL,
is a 404 as one that does not exist. Dinkes sees every gateway, also those central knows only
from a reading or a dead letter.
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations at run time.
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from central.cascade import DEFAULT_ZONE, Period, window
from central.quality import GATEWAY_ONLY, MEASURES, QualityQueries, QualityRow, span_of, total
from central.web.auth import Principal, Role, require
from central.web.i18n import text
from central.web.shared import Render, WebApp
from central.web.svg import Bar, bar_chart
from central.wilayah import Wilayah

_ROLES = (Role.DINKES, Role.PUSKESMAS, Role.COORDINATOR)
# The problems the charts and the totals show: every measure but the readings themselves.
PROBLEMS = tuple(m for m in MEASURES if m != "readings")
# The gateways chart names the worst few; the table below it has every one.
TOP_GATEWAYS = 10


def register(app: FastAPI, web: WebApp, render: Render) -> None:
    allowed = require(*_ROLES)

    @app.get("/quality", response_class=HTMLResponse)
    def quality_page(
        request: Request,
        principal: Annotated[Principal, Depends(allowed)],
        period: Annotated[Period, Query()] = Period.MONTH,
        on: Annotated[str, Query(max_length=10, alias="date")] = "",
        gateway: Annotated[str, Query(max_length=100)] = "",
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    ) -> Response:
        lang = getattr(request.state, "lang", "id")
        wilayah = web.settings.wilayah
        today = datetime.fromtimestamp(web.clock(), DEFAULT_ZONE).date()
        try:
            day = date.fromisoformat(on) if on else today
        except ValueError:
            raise HTTPException(status_code=400) from None
        win = window(period, day)
        span = span_of(win, DEFAULT_ZONE)
        queries = QualityQueries(web.engine, web.clock)
        visible = queries.visible_gateways(_sites_of(wilayah, principal))

        def t(key: str) -> str:
            return text(key, lang)

        headers = (t("quality_problem"), t("quality_count"))
        context = {
            "period": period.value,
            "periods": [p.value for p in Period],
            "day": day.isoformat(),
            "window": win,
            "measures": MEASURES,
            "gateway_only": GATEWAY_ONLY,
            "site_name": lambda site: _site_name(wilayah, site),
        }
        if gateway:
            if visible is not None and gateway not in visible:
                raise HTTPException(status_code=404)
            found = queries.by_gateway(span, frozenset([gateway]))
            if not found and not queries.known(gateway):
                raise HTTPException(status_code=404)
            row = found[0] if found else QualityRow(gateway, None, None)
            devices = queries.by_device(gateway, span)
            chart = bar_chart(
                "problems",
                t("quality_chart_gateway"),
                t("quality_chart_gateway_desc"),
                [Bar(t(f"quality_{m}"), getattr(row, m) or 0) for m in PROBLEMS],
                headers,
            )
            return render(
                request, "quality.html", gateway=row, devices=devices, charts=[chart], **context
            )
        rows = queries.by_gateway(span, visible)
        whole = total(rows)
        size = web.settings.page_size
        pages = max(1, -(-len(rows) // size))
        if page > pages:
            raise HTTPException(status_code=404)
        worst = sorted((r for r in rows if r.problems), key=lambda r: (-r.problems, r.gateway_id))
        charts = [
            bar_chart(
                "problems",
                t("quality_chart_total"),
                t("quality_chart_total_desc"),
                [Bar(t(f"quality_{m}"), getattr(whole, m) or 0) for m in PROBLEMS],
                headers,
            ),
            bar_chart(
                "worst",
                t("quality_chart_worst"),
                t("quality_chart_worst_desc"),
                [Bar(r.gateway_id, r.problems) for r in worst[:TOP_GATEWAYS]],
                (t("quality_gateway"), t("quality_problems")),
            ),
        ]
        return render(
            request,
            "quality.html",
            gateway=None,
            rows=rows[(page - 1) * size : page * size],
            whole=whole,
            gateways=len(rows),
            page=page,
            pages=pages,
            charts=charts,
            **context,
        )


def _sites_of(wilayah: Wilayah, principal: Principal) -> set[str] | None:
    if principal.whole_city:
        return None
    return {s.id for s in wilayah.sites.values() if s.kelurahan in principal.wilayah}


def _site_name(wilayah: Wilayah, site: str | None) -> str:
    found = wilayah.sites.get(site) if site else None
    return found.name if found else (site or "")
