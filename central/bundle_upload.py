"""`POST /api/bundles`: a bundle carried by a kader's phone, answered with its signed receipt.

The phone's browser sends the bundle file's bytes exactly as the kit gave them (raw body) and
keeps the answer, the receipt file, to hand back to the kit. It is the same import as
`gempita central import` (central.bundle_import): checked whole, stored once by reading id,
so a phone that uploads twice (no answer seen the first time, Background Sync retrying) gets
a second receipt for the same readings and nothing is stored twice.

CORS: the page that uploads is served by the kit (its service worker keeps the bundles on the
kit's origin while the phone travels), so the request is cross-origin. Only the origins given
in `allowed_origins` get the CORS headers; no cookies are involved (the bundle authenticates
itself by the gateway's signature), so credentials are never allowed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from central.bundle_import import CentralKeys, import_bundle
from central.store import CentralStore
from core.bundle import BundleError

_LOGGER = logging.getLogger(__name__)

PATH = "/api/bundles"
# The kit cuts bundles into chunks (10,000 readings by default, about 2 MB): a cap well above
# that, so a phone never meets it with a kit's own bundle, and far below what would hurt.
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
RECEIPT_TYPE = "application/vnd.gempita.receipt"
_READ_CHUNK = 64 * 1024


def make_router(
    store: CentralStore,
    keys: CentralKeys,
    clock: Callable[[], dt.datetime],
    *,
    allowed_origins: Sequence[str] = (),
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> APIRouter:
    """The upload endpoint over `store`; `clock` is aware UTC (certificate validity)."""
    router = APIRouter()
    origins = frozenset(allowed_origins)

    def cors(request: Request) -> dict[str, str]:
        origin = request.headers.get("origin")
        if origin is None or origin not in origins:
            return {}
        return {
            "access-control-allow-origin": origin,
            "access-control-expose-headers": "x-gempita-readings, x-gempita-stored",
            "vary": "Origin",
        }

    def refused(request: Request, status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=cors(request))

    @router.options(PATH)
    async def preflight(request: Request) -> Response:
        headers = cors(request)
        if headers:
            headers |= {
                "access-control-allow-methods": "POST",
                "access-control-allow-headers": "content-type",
                "access-control-max-age": "600",
            }
        return Response(status_code=204, headers=headers)

    @router.post(PATH)
    async def upload(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            return refused(request, 413, _too_large(max_bytes))
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > max_bytes:
                return refused(request, 413, _too_large(max_bytes))
        if not body:
            return refused(
                request, 400, "empty upload: send the .gempita-bundle file's bytes as the body"
            )
        try:
            # The store is blocking (SQLAlchemy) and the import decrypts and inflates: a thread.
            done = await asyncio.to_thread(import_bundle, store, bytes(body), keys, now=clock())
        except BundleError as exc:
            _LOGGER.warning("uploaded bundle refused (%d bytes): %s", len(body), exc)
            return refused(request, 400, f"bundle refused, nothing imported: {exc}")
        _LOGGER.info(
            "uploaded bundle from %s: %d readings, %d new",
            done.gateway_id,
            done.readings,
            done.stored,
        )
        return Response(
            done.receipt,
            media_type=RECEIPT_TYPE,
            headers={
                **cors(request),
                "x-gempita-readings": str(done.readings),
                "x-gempita-stored": str(done.stored),
            },
        )

    return router


def _too_large(max_bytes: int) -> str:
    return (
        f"bundle larger than {max_bytes // (1024 * 1024)} MiB: export it in smaller chunks "
        "on the kit (`gempita bundle export --chunk N`)"
    )
