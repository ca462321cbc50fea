"""`create_app(deps)`: the kiosk and kader web app, built only from injected parts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kiosk import (
    routes_admin,
    routes_assurance,
    routes_carry,
    routes_kader,
    routes_kader_assurance,
    routes_portal,
    routes_resident,
)
from kiosk.context import Kiosk
from kiosk.deps import KioskDeps
from kiosk.i18n import text
from kiosk.middleware import SafetyMiddleware

_LOGGER = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 2.0


def create_app(deps: KioskDeps) -> FastAPI:
    kiosk = Kiosk(deps)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with deps.events.subscribe() as queue:
            tasks = [
                asyncio.create_task(kiosk.board.run(queue), name="kiosk-events"),
                asyncio.create_task(_sweep(kiosk), name="kiosk-sweeper"),
            ]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                kiosk.roster.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.kiosk = kiosk
    app.include_router(routes_resident.router(kiosk))
    app.add_exception_handler(routes_resident.NoVisitError, routes_resident.back_to_start)
    app.include_router(routes_kader.router(kiosk))
    app.include_router(routes_kader_assurance.router(kiosk))
    app.include_router(routes_carry.router(kiosk))
    app.include_router(routes_admin.router(kiosk))
    app.include_router(routes_assurance.router(kiosk))
    app.include_router(routes_portal.router(kiosk))

    def error_page(status: int) -> str:
        template = kiosk.templates.get_template("error.html")
        return template.render(
            status=status,
            languages=kiosk.settings.languages,
            text=text,
            settings=kiosk.settings,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return HTMLResponse(error_page(exc.status_code), status_code=exc.status_code)

    app.add_middleware(SafetyMiddleware, error_page=lambda _path: error_page(500).encode())
    return app


async def _sweep(kiosk: Kiosk) -> None:
    """Wipe idle sessions server-side even when their browser is gone."""
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_S)
        try:
            sweep_once(kiosk)
        except Exception:  # keep sweeping: a wipe that stops is a privacy bug
            _LOGGER.exception("session sweep failed")


def sweep_once(kiosk: Kiosk) -> None:
    for visit in kiosk.visits.sweep():
        kiosk.board.forget(visit.visit_id)
    kiosk.kaders.sweep()
    kiosk.admins.sweep()
    kiosk.board.expire()
