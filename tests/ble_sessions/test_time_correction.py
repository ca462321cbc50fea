"""The BLE session's clock holder: offset measurement, logging, and handing off to core.

The time rules themselves (thresholds, plausibility, zones, DST) are tested once, in
tests/core/test_time_policy.py; these tests pin only what `TimeCorrector` adds on top.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from core.reading import TimeQuality
from core.time_policy import FallbackReason, TimeDecision
from drivers.ble.time_correction import TimeCorrector
from drivers.errors import UsageError

RECEIVED = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)  # 13:00 WITA


def local(hour: int, minute: int = 0, day: int = 27) -> datetime:
    return datetime(2026, 11, day, hour, minute)


def test_wita_is_utc_plus_8_without_offset() -> None:
    corrector = TimeCorrector()
    assert corrector.correct(local(12, 30), received_at=RECEIVED) == TimeDecision(
        datetime(2026, 11, 27, 4, 30, tzinfo=UTC),
        TimeQuality.DEVICE_CLOCK,
        "2026-11-27T12:30:00",
        None,
    )


def test_other_site_zone() -> None:
    corrector = TimeCorrector("Asia/Jakarta")  # WIB, UTC+7
    corrected = corrector.correct(local(11, 30), received_at=RECEIVED)
    assert corrected.measured_at == datetime(2026, 11, 27, 4, 30, tzinfo=UTC)


def test_measured_offset_is_used_for_every_record() -> None:
    corrector = TimeCorrector()
    corrector.measure_offset(local(13, 1), RECEIVED)  # meter one minute fast
    assert corrector.clock_offset_s == 60.0
    assert corrector.correct(local(12, 31), received_at=RECEIVED) == TimeDecision(
        datetime(2026, 11, 27, 4, 30, tzinfo=UTC), TimeQuality.SYNCED, "2026-11-27T12:31:00", 60.0
    )
    corrector.measure_offset(local(12, 0), RECEIVED)  # an hour slow
    corrected = corrector.correct(local(11, 0), received_at=RECEIVED)
    assert (corrected.measured_at, corrected.quality, corrected.clock_offset_s) == (
        datetime(2026, 11, 27, 4, 0, tzinfo=UTC), TimeQuality.DEVICE_CLOCK, -3600.0
    )


def test_unknown_device_clock_leaves_offset_unmeasured(caplog: pytest.LogCaptureFixture) -> None:
    corrector = TimeCorrector()
    corrector.clock_offset_s = 10.0
    with caplog.at_level(logging.WARNING):
        corrector.measure_offset(None, RECEIVED)
    assert corrector.clock_offset_s is None
    assert "unknown" in caplog.text


@pytest.mark.parametrize(
    ("device_time", "live", "quality"),
    [
        (None, True, TimeQuality.GATEWAY_RECEIVE),
        (datetime(2000, 1, 1), False, TimeQuality.UNKNOWN),
        (local(13, 30), True, TimeQuality.GATEWAY_RECEIVE),  # half an hour ahead
    ],
)
def test_untrusted_times_leave_a_log_line(
    device_time: datetime | None,
    live: bool,
    quality: TimeQuality,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        corrected = TimeCorrector().correct(device_time, received_at=RECEIVED, live=live)
    assert corrected.quality is quality
    assert corrected.measured_at == RECEIVED
    assert corrected.fallback is not None
    assert corrected.fallback.value in caplog.text, "an untrusted time must leave a log line"


def test_raw_text_kept_for_impossible_dates() -> None:
    corrected = TimeCorrector().correct(
        None, received_at=RECEIVED, device_time_text="2026-13-02T07:30:00"
    )
    assert corrected.device_time == "2026-13-02T07:30:00"
    assert corrected.fallback is FallbackReason.NO_DEVICE_TIME


def test_bad_zone_is_usage_error() -> None:
    with pytest.raises(UsageError, match="IANA"):
        TimeCorrector("Mars/Olympus")


def test_aware_device_time_is_usage_error() -> None:
    with pytest.raises(UsageError):
        TimeCorrector().correct(RECEIVED, received_at=RECEIVED)
