"""Serves the kiosk web app inside the gateway process (wired when kiosk/ lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.service import Gateway


async def serve_kiosk(gateway: Gateway) -> None:
    raise RuntimeError("the kiosk web app is not part of this build yet")
