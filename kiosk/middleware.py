"""ASGI middleware: privacy/safety headers on every response, and a friendly error page.

Errors are logged with the route and the exception type and code location only: exception
messages and request bodies can carry personal data, so they are never logged.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LOGGER = logging.getLogger(__name__)

HEADERS = [
    # Nothing of a resident's pages may be kept by the browser (back button, cache, bfcache).
    (b"cache-control", b"no-store, max-age=0"),
    (b"pragma", b"no-cache"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        b"img-src 'self' data:; connect-src 'self'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
]


_CSP = b"content-security-policy"


class SafetyMiddleware:
    def __init__(self, app: ASGIApp, error_page: Callable[[str], bytes]) -> None:
        self._app = app
        self._error_page = error_page  # path -> HTML body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                given = list(message.get("headers", []))
                # A page may set the policy for itself (the carry page adds its
                # scripts, its worker and central); every other header is always ours.
                own_csp = any(name.lower() == _CSP for name, _ in given)
                ours = [h for h in HEADERS if not (own_csp and h[0] == _CSP)]
                names = {name for name, _ in ours}
                headers = [h for h in given if h[0].lower() not in names]
                message["headers"] = headers + ours
            await send(message)

        try:
            await self._app(scope, receive, send_with_headers)
        # The outermost boundary: anything may fail below. Logged without the message (it can
        # carry personal data), hence no logger.exception.
        except Exception as exc:  # noqa: BLE001
            _LOGGER.error(
                "error on %s %s: %s\n%s",
                scope.get("method"),
                scope.get("path"),
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if started:
                return
            body = self._error_page(str(scope.get("path", "/")))
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"text/html; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                        *HEADERS,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
