"""The "Bawa data ke pusat" pages: the kader's phone carries the kit's bundles (issue 14).

On the kit's Wi-Fi the phone takes the sealed bundles (kiosk.carry.Carry.export) and keeps
them in IndexedDB on the kit's origin, under a service worker that also keeps this page, so
it opens with no kit in reach. Once online the page (or Background Sync) posts each bundle to
central's `POST /api/bundles` and keeps the signed receipt it answers; back on the kit's Wi-Fi
it hands the receipt to Carry.apply_receipt, which marks those readings confirmed.

Routes, all under /kader/bawa/ (the service worker's scope):
- GET  /kader/bawa/          the page (a shell: what it lists comes from IndexedDB)
- GET  /kader/bawa/sesi      JSON: is a kader signed in, their CSRF token, this kit's id
- POST /kader/bawa/ambil     seal the unconfirmed readings; JSON with the bundles (base64)
- POST /kader/bawa/kwitansi  raw body = a receipt file; JSON with what it confirmed
- GET  /kader/bawa/<file>.js the page's scripts and the service worker (kiosk/static/)

The two POSTs need the kader's session cookie and its CSRF token in the X-Gempita-CSRF
header (a header a cross-site form cannot send).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from kiosk.carry import CarryError
from kiosk.context import Kiosk
from kiosk.i18n import text
from kiosk.routes_kader import COOKIE
from kiosk.security import tokens_match

_LOGGER = logging.getLogger(__name__)

PREFIX = "/kader/bawa"
CSRF_HEADER = "x-gempita-csrf"
STATIC = Path(__file__).with_name("static")
SCRIPTS = ("carry_db.js", "carry.js", "sw.js")
# A receipt names reading ids only: tens of bytes each. A cap far above any real one.
MAX_RECEIPT_BYTES = 8 * 1024 * 1024


def carry_csp(central_url: str) -> bytes:
    """The carry pages' policy: the kiosk's, plus its own scripts, its worker and central."""
    central = origin_of(central_url)
    connect = f"'self' {central}" if central else "'self'"
    return (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'self' 'unsafe-inline'; "
        f"worker-src 'self'; connect-src {connect}; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ).encode()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def router(k: Kiosk) -> APIRouter:
    r = APIRouter(prefix=PREFIX)
    scripts = {name: (STATIC / name).read_bytes() for name in SCRIPTS}
    upload_url = k.settings.central_upload_url

    def gateway_id() -> str:
        return k.deps.carry.gateway_id if k.deps.carry is not None else k.settings.kiosk_id

    def csp() -> dict[str, str]:
        return {"content-security-policy": carry_csp(upload_url).decode()}

    def error(status: int, key: str, lang: str, detail: str = "") -> JSONResponse:
        body = {"error": key, "message": text(key, lang), "detail": detail}
        return JSONResponse(body, status_code=status, headers=csp())

    def signed_in(request: Request) -> tuple[str, bool]:
        login = k.kaders.get(request.cookies.get(COOKIE))
        if login is None:
            return k.lang_or_default(request.query_params.get("lang")), False
        given = request.headers.get(CSRF_HEADER)
        return login.lang, tokens_match(given, login.csrf)

    @r.get("/")
    async def page(request: Request) -> Response:
        login = k.kaders.get(request.cookies.get(COOKIE))
        lang = login.lang if login else k.lang_or_default(request.query_params.get("lang"))
        response = k.render(
            request,
            "kader_carry.html",
            lang,
            central_url=upload_url,
            gateway_id=gateway_id(),
            strings={key: text(key, lang) for key in CLIENT_TEXTS},
        )
        response.headers.update(csp())
        return response

    @r.get("/sesi")
    async def session(request: Request) -> Response:
        login = k.kaders.get(request.cookies.get(COOKIE))
        body = {
            "kader": login is not None,
            "csrf": login.csrf if login else None,
            "gateway_id": gateway_id(),
            "central_url": upload_url,
            "carry": k.deps.carry is not None,
        }
        return JSONResponse(body, headers=csp())

    @r.post("/ambil")
    async def take(request: Request) -> Response:
        lang, ok = signed_in(request)
        if not ok:
            return error(403, "carry_err_login", lang)
        if k.deps.carry is None or not upload_url:
            return error(503, "carry_err_unavailable", lang)
        try:
            bundles = await k.deps.carry.export()
        except CarryError as exc:
            _LOGGER.warning("carry export refused: %s", exc.detail)
            return error(503, exc.key, lang, exc.detail)
        listed = [
            {
                "name": b.name,
                "sha256": hashlib.sha256(b.data).hexdigest(),
                "count": b.count,
                "chunk": b.chunk,
                "chunks": b.chunks,
                "export_id": b.export_id,
                "data": base64.b64encode(b.data).decode("ascii"),
            }
            for b in bundles
        ]
        _LOGGER.info("carry: %d bundle(s) handed to a kader's phone", len(listed))
        body = {"gateway_id": gateway_id(), "central_url": upload_url, "bundles": listed}
        return JSONResponse(body, headers=csp())

    @r.post("/kwitansi")
    async def receipt(request: Request) -> Response:
        lang, ok = signed_in(request)
        if not ok:
            return error(403, "carry_err_login", lang)
        if k.deps.carry is None:
            return error(503, "carry_err_unavailable", lang)
        data = bytearray()
        async for part in request.stream():
            data += part
            if len(data) > MAX_RECEIPT_BYTES:
                return error(413, "carry_err_receipt", lang, "receipt too large")
        try:
            done = await k.deps.carry.apply_receipt(bytes(data))
        except CarryError as exc:
            _LOGGER.warning("carry receipt refused: %s", exc.detail)
            return error(400, exc.key, lang, exc.detail)
        body = {
            "confirmed": done.confirmed,
            "already": done.already,
            "unknown": done.unknown,
            "bundle_sha256": done.bundle_sha256,
        }
        return JSONResponse(body, headers=csp())

    for name in SCRIPTS:

        def serve(name: str = name) -> Response:
            return Response(scripts[name], media_type="text/javascript", headers=csp())

        r.add_api_route(f"/{name}", serve, methods=["GET"])

    return r


# Texts the page's script shows (it runs without the kit, so it gets them with the page).
CLIENT_TEXTS = (
    "carry_state_carried",
    "carry_state_delivered",
    "carry_state_confirmed",
    "carry_state_refused",
    "carry_readings",
    "carry_none",
    "carry_taken",
    "carry_nothing",
    "carry_offline",
    "carry_central_down",
    "carry_sent",
    "carry_handed_back",
    "carry_not_this_kit",
    "carry_sync_registered",
    "carry_no_worker",
    "carry_err_login",
    "carry_err_unavailable",
    "carry_err_export",
    "carry_insecure",
    "carry_keep_tab",
)
