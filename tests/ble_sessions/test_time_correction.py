"""Device local time -> UTC with the site zone and the measured clock offset."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.reading import TimeQuality
from drivers.ble.time_correction import CorrectedTime, TimeCorrector
from drivers.errors import UsageError

RECEIVED = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)  # 13:00 WITA


def local(hour: int, minute: int = 0, day: int = 27) -> datetime:
    return datetime(2026, 11, day, hour, minute)


def test_wita_is_utc_plus_8_without_offset() -> None:
    corrector = TimeCorrector()
    assert corrector.correct(local(12, 30), received_at=RECEIVED) == CorrectedTime(
        datetime(2026, 11, 27, 4, 30, tzinfo=UTC),
        TimeQuality.DEVICE_CLOCK,
        "2026-11-27T12:30:00",
        None,
    )


def test_other_site_zone() -> None:
    corrector = TimeCorrector("Asia/Jakarta")  # WIB, UTC+7
    corrected = corrector.correct(local(11, 30), received_at=RECEIVED)
    assert corrected.measured_at == datetime(2026, 11, 27, 4, 30, tzinfo=UTC)


def test_small_offset_is_synced_and_applied() -> None:
    corrector = TimeCorrector()
    corrector.measure_offset(local(13, 1), RECEIVED)  # meter one minute fast
    assert corrector.correct(local(12, 31), received_at=RECEIVED) == CorrectedTime(
        datetime(2026, 11, 27, 4, 30, tzinfo=UTC), TimeQuality.SYNCED, "2026-11-27T12:31:00", 60.0
    )


def test_large_offset_is_device_clock() -> None:
    corrector = TimeCorrector()
    corrector.measure_offset(local(12, 0), RECEIVED)  # an hour slow
    corrected = corrector.correct(local(11, 0), received_at=RECEIVED)
    assert corrected.measured_at == datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
    assert corrected.quality is TimeQuality.DEVICE_CLOCK
    assert corrected.clock_offset_s == -3600.0


def test_unknown_device_clock_leaves_offset_unmeasured(caplog: pytest.LogCaptureFixture) -> None:
    corrector = TimeCorrector()
    with caplog.at_level(logging.WARNING):
        corrector.measure_offset(None, RECEIVED)
    assert corrector.clock_offset_s is None
    assert "unknown" in caplog.text


@pytest.mark.parametrize(
    ("device_time", "live", "quality"),
    [
        (None, True, TimeQuality.GATEWAY_RECEIVE),
        (None, False, TimeQuality.UNKNOWN),
        (datetime(2000, 1, 1), False, TimeQuality.UNKNOWN),
        (datetime(2023, 1, 1), True, TimeQuality.GATEWAY_RECEIVE),
        (datetime(2037, 1, 1), False, TimeQuality.UNKNOWN),
        (local(13, 30), True, TimeQuality.GATEWAY_RECEIVE),  # half an hour ahead
    ],
)
def test_implausible_times_are_never_trusted_silently(
    device_time: datetime | None,
    live: bool,
    quality: TimeQuality,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        corrected = TimeCorrector().correct(device_time, received_at=RECEIVED, live=live)
    assert corrected.quality is quality
    assert corrected.measured_at == RECEIVED
    assert caplog.records, "an untrusted time must leave a log line"


def test_raw_text_kept_for_impossible_dates() -> None:
    corrected = TimeCorrector().correct(
        None, received_at=RECEIVED, device_time_text="2026-13-02T07:30:00"
    )
    assert corrected.device_time == "2026-13-02T07:30:00"


def test_slightly_future_within_tolerance_is_kept() -> None:
    corrected = TimeCorrector().correct(local(13, 5), received_at=RECEIVED)
    assert corrected.quality is TimeQuality.DEVICE_CLOCK
    assert corrected.measured_at == RECEIVED + timedelta(minutes=5)


def test_overflowing_correction_falls_back() -> None:
    corrector = TimeCorrector()
    corrector.clock_offset_s = -1e7
    corrected = corrector.correct(
        datetime(9999, 12, 31, 23, 0),
        received_at=RECEIVED,
        live=False,
    )
    assert corrected.quality is TimeQuality.UNKNOWN


def test_bad_zone_is_usage_error() -> None:
    with pytest.raises(UsageError, match="IANA"):
        TimeCorrector("Mars/Olympus")


def test_aware_device_time_is_usage_error() -> None:
    with pytest.raises(UsageError):
        TimeCorrector().correct(RECEIVED, received_at=RECEIVED)


@given(
    st.datetimes(min_value=datetime(1582, 1, 1), max_value=datetime(9999, 12, 30)),
    st.one_of(st.none(), st.floats(min_value=-1e7, max_value=1e7)),
    st.booleans(),
)
def test_any_device_time_gives_utc_and_a_quality(
    device_time: datetime, offset: float | None, live: bool
) -> None:
    corrector = TimeCorrector()
    corrector.clock_offset_s = offset
    corrected = corrector.correct(device_time, received_at=RECEIVED, live=live)
    assert corrected.measured_at.utcoffset() == timedelta(0)
    assert RECEIVED - timedelta(days=2 * 365) <= corrected.measured_at
    assert corrected.measured_at <= RECEIVED + timedelta(minutes=10)
