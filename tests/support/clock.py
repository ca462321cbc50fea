"""The one fake wall clock for tests: an aware UTC time that moves only when the test says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# 10:00 WITA (UTC+8) on a Friday, Balikpapan.
DEFAULT_START = datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC)


class FakeClock:
    """Callable like the `clock` the gateway, kiosk and simulators take; shared by both sides
    of a test so clock offsets and corrected times are exact."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
