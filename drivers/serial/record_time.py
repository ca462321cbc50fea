"""A serial meter record's UTC time and quality: `core.time_policy` applied to a memory dump.

Shared by every serial session (Contour, TaiDoc, Beurer, LifeScan). A meter clock read right
after connecting gives the offset (meter minus gateway; None for a meter whose clock cannot be
read, such as the Beurer BM58). Every record read from memory is a stored one (`live=False`),
stamped before any clock set this session does (sessions set the clock only after the dump), so
an implausible time is UNKNOWN, never GATEWAY_RECEIVE. The decision itself lives in core.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from core.time_policy import TimeDecision, TimeEvidence, decide_time

_LOGGER = logging.getLogger(__name__)


def record_time(
    local: datetime, offset_s: float | None, zone: ZoneInfo, received_at: datetime
) -> TimeDecision:
    """The decided time of a record stamped `local` by the meter, read at `received_at`."""
    decision = decide_time(
        TimeEvidence(
            device_wall=local,
            received_at=received_at,
            zone=zone,
            clock_offset_s=offset_s,
            device_time_text=local.isoformat(timespec="seconds"),
        )
    )
    if decision.fallback is not None:
        _LOGGER.warning(
            "%s (%s, offset %s s): using %s",
            decision.fallback.value, decision.device_time, offset_s, decision.quality.value,
        )
    return decision
