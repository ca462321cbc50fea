"""Safety headers on every response of central's web app.

Staff pages show residents' data: nothing may be cached, framed or sent to another site, and
no script runs (the pages need none), so an injected one cannot either. The one exception is
a page in `SCRIPTED_PATHS`: it may load its own script file from /static (never inline code)
and fetch from this site, e.g. the fleet list polling its rows.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS = [
    (b"cache-control", b"no-store, max-age=0"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
]
_NAMES = {name for name, _ in HEADERS}
SCRIPTED_PATHS = frozenset({"/fleet"})
SCRIPTED_HEADERS = [
    (name, value + b"; script-src 'self'; connect-src 'self'")
    if name == b"content-security-policy"
    else (name, value)
    for name, value in HEADERS
]


class SafetyHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        headers = SCRIPTED_HEADERS if scope.get("path") in SCRIPTED_PATHS else HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [h for h in message.get("headers", []) if h[0].lower() not in _NAMES]
                message["headers"] = kept + headers
            await send(message)

        await self._app(scope, receive, send_with_headers)
