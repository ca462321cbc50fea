"""Which Wi-Fi clients accepted the captive-portal terms (by client IP, for a while)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta


class PortalClients:
    def __init__(self, ttl: Callable[[], timedelta], clock: Callable[[], datetime]) -> None:
        self._ttl = ttl
        self._clock = clock
        self._accepted: dict[str, datetime] = {}

    def accept(self, address: str) -> None:
        self._accepted[address] = self._clock()

    def accepted(self, address: str) -> bool:
        at = self._accepted.get(address)
        if at is None:
            return False
        if self._clock() - at > self._ttl():
            del self._accepted[address]
            return False
        return True
