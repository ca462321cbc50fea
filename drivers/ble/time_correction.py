"""One BLE session's clock: the measured offset, and each record's time via `core.time_policy`.

BLE Date Time has no zone: meters keep the local time they were set to. The session reads the
meter's clock once (CTS 0x2A2B, a quirk's vendor clock, or a readable Date Time) and records the
offset (device clock minus gateway UTC clock) here; every record's time and `TimeQuality` is
then decided by `core.time_policy.decide_time` — the rules live there, not here. This class only
holds the session's state (site zone, offset) and says in a log line why a device time was not
used.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from core.clock import DEFAULT_SITE_TZ, UnknownTimeZoneError, site_zone
from core.time_policy import PlausibilityWindow, TimeDecision, TimeEvidence, decide_time
from drivers.errors import UsageError

_LOGGER = logging.getLogger(__name__)


class TimeCorrector:
    """Decides device timestamps for one session (one site zone, one measured offset)."""

    def __init__(
        self, site_tz: str = DEFAULT_SITE_TZ, *, window: PlausibilityWindow | None = None
    ) -> None:
        try:
            self.zone = site_zone(site_tz)
        except UnknownTimeZoneError as exc:
            raise UsageError(f"site timezone: {exc}") from exc
        self.window = window or PlausibilityWindow()
        self.clock_offset_s: float | None = None

    def to_utc(self, device_local: datetime) -> datetime:
        if device_local.tzinfo is not None:
            raise UsageError("device timestamps are naive local wall-clock times")
        return device_local.replace(tzinfo=self.zone).astimezone(UTC)

    def measure_offset(self, device_now_local: datetime | None, gateway_now: datetime) -> None:
        """Record the offset from a clock read (CTS 0x2A2B or a vendor clock) in this session.

        A clock reading that is itself unusable (year 0) leaves the offset unmeasured.
        """
        if device_now_local is None:
            _LOGGER.warning("device clock reads as unknown; its timestamps are not corrected")
            self.clock_offset_s = None
            return
        self.clock_offset_s = (self.to_utc(device_now_local) - gateway_now).total_seconds()
        _LOGGER.debug("device clock offset %.1f s", self.clock_offset_s)

    def correct(
        self,
        device_local: datetime | None,
        *,
        received_at: datetime,
        live: bool = False,
        device_time_text: str | None = None,
    ) -> TimeDecision:
        """Decide one record's time. `received_at` is the gateway's aware UTC time."""
        if device_local is not None and device_local.tzinfo is not None:
            raise UsageError("device timestamps are naive local wall-clock times")
        decision = decide_time(
            TimeEvidence(
                device_wall=device_local,
                received_at=received_at,
                zone=self.zone,
                clock_offset_s=self.clock_offset_s,
                # The BLE sessions write the clock before collecting, but every record they
                # receive may have been stamped before that write: never claimed here.
                clock_set_by_gateway=False,
                live=live,
                device_time_text=device_time_text,
                window=self.window,
            )
        )
        if decision.fallback is not None:
            _LOGGER.warning(
                "%s (%s, offset %s s): using %s", decision.fallback.value,
                decision.device_time or "none", self.clock_offset_s, decision.quality.value,
            )
        return decision
