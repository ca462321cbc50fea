"""Captive portal: phones joining the kit's Wi-Fi land on a Gempita welcome page.

dnsmasq answers every name with the kit's address and nftables sends port 80 here (see
kiosk/portal/). Until a phone's address accepted the terms, the operating systems' connectivity
probes are redirected to the welcome page, which makes the phone open its portal sheet; after
that, the probes get the exact answers the phones expect, so they stay on the (offline) Wi-Fi
without complaining.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from kiosk.context import Kiosk, client_key, form_fields, redirect

APPLE_SUCCESS = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
ANDROID_PATHS = ("/generate_204", "/gen_204")
APPLE_PATHS = ("/hotspot-detect.html", "/library/test/success.html")
WINDOWS_ANSWERS = {"/connecttest.txt": "Microsoft Connect Test", "/ncsi.txt": "Microsoft NCSI"}


def router(k: Kiosk) -> APIRouter:
    r = APIRouter()

    def to_portal() -> Response:
        # Absolute URL on the kit's own name: the probe's Host is the vendor's domain.
        return RedirectResponse(f"http://{k.settings.portal_host}/portal", status_code=302)

    async def android(request: Request) -> Response:
        if k.portal.accepted(client_key(request)):
            return Response(status_code=204)
        return to_portal()

    async def apple(request: Request) -> Response:
        if k.portal.accepted(client_key(request)):
            return Response(APPLE_SUCCESS, media_type="text/html")
        return to_portal()

    def windows(answer: str) -> Callable[[Request], Awaitable[Response]]:
        async def probe(request: Request) -> Response:
            if k.portal.accepted(client_key(request)):
                return PlainTextResponse(answer)
            return to_portal()

        return probe

    for path in ANDROID_PATHS:
        r.add_api_route(path, android, methods=["GET", "HEAD"], include_in_schema=False)
    for path in APPLE_PATHS:
        r.add_api_route(path, apple, methods=["GET", "HEAD"], include_in_schema=False)
    for path, answer in WINDOWS_ANSWERS.items():
        r.add_api_route(path, windows(answer), methods=["GET", "HEAD"], include_in_schema=False)

    async def windows_redirect() -> Response:
        return to_portal()

    r.add_api_route("/redirect", windows_redirect, methods=["GET"], include_in_schema=False)

    @r.get("/portal")
    async def welcome(request: Request) -> Response:
        lang = k.lang_or_default(request.query_params.get("lang"))
        accepted = k.portal.accepted(client_key(request))
        return k.render(request, "portal.html", lang, accepted=accepted)

    @r.post("/portal")
    async def accept(request: Request) -> Response:
        form = await form_fields(request)
        lang = k.lang_or_default(form.get("lang"))
        if form.get("accept") == "yes":
            k.portal.accept(client_key(request))
        return redirect(f"/portal?lang={lang}")

    return r
