"""The one time policy: device wall time + offset + zone + receive time -> UTC and quality."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.clock import DEFAULT_SITE_TZ, site_zone
from core.reading import TimeQuality
from core.time_policy import (
    EARLIEST_PLAUSIBLE,
    SYNCED_TOLERANCE_S,
    FallbackReason,
    PlausibilityWindow,
    TimeDecision,
    TimeEvidence,
    decide_time,
    is_ambiguous_or_missing,
    wall_to_utc,
)

WITA = site_zone(None)  # Asia/Makassar, UTC+8, no DST
BERLIN = ZoneInfo("Europe/Berlin")
RECEIVED = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)  # 13:00 WITA
WALL_NOW = datetime(2026, 11, 27, 13, 0)


def evidence(wall: datetime | None, offset: float | None = None, **kw: object) -> TimeEvidence:
    return TimeEvidence(
        device_wall=wall, received_at=RECEIVED, zone=WITA, clock_offset_s=offset, **kw  # type: ignore[arg-type]
    )


def test_default_zone_is_core_clock_default() -> None:
    assert DEFAULT_SITE_TZ == "Asia/Makassar"
    assert wall_to_utc(WALL_NOW, WITA) == RECEIVED


def test_unknown_offset_is_device_clock_taken_as_is() -> None:
    wall = WALL_NOW - timedelta(hours=3)
    assert decide_time(evidence(wall)) == TimeDecision(
        RECEIVED - timedelta(hours=3), TimeQuality.DEVICE_CLOCK, wall.isoformat(), None
    )


@pytest.mark.parametrize(
    ("offset", "quality"),
    [
        (0.0, TimeQuality.SYNCED),
        (SYNCED_TOLERANCE_S - 1, TimeQuality.SYNCED),
        (SYNCED_TOLERANCE_S, TimeQuality.SYNCED),  # the threshold itself is in sync
        (SYNCED_TOLERANCE_S + 1, TimeQuality.DEVICE_CLOCK),
        (-(SYNCED_TOLERANCE_S - 1), TimeQuality.SYNCED),
        (-SYNCED_TOLERANCE_S, TimeQuality.SYNCED),
        (-(SYNCED_TOLERANCE_S + 1), TimeQuality.DEVICE_CLOCK),
        (-3600.0, TimeQuality.DEVICE_CLOCK),
    ],
)
def test_offset_threshold_and_offset_always_applied(offset: float, quality: TimeQuality) -> None:
    wall = WALL_NOW - timedelta(hours=1)
    decision = decide_time(evidence(wall, offset))
    assert decision.quality is quality
    # Applied on both sides of the threshold: measured_at == wall in UTC - offset.
    assert decision.measured_at == RECEIVED - timedelta(hours=1, seconds=offset)
    assert decision.clock_offset_s == offset
    assert decision.fallback is None


def test_gateway_set_clock_before_stamping_is_synced() -> None:
    decision = decide_time(evidence(WALL_NOW - timedelta(minutes=1), clock_set_by_gateway=True))
    assert decision.quality is TimeQuality.SYNCED
    assert decision.clock_offset_s is None


def test_gateway_set_clock_does_not_rescue_an_implausible_time() -> None:
    decision = decide_time(evidence(datetime(2000, 1, 1), clock_set_by_gateway=True))
    assert decision.quality is TimeQuality.UNKNOWN


@pytest.mark.parametrize("live", [True, False])
def test_no_device_time(live: bool) -> None:
    decision = decide_time(evidence(None, 30.0, live=live, device_time_text="2026-13-02T07:30:00"))
    assert decision == TimeDecision(
        RECEIVED,
        TimeQuality.GATEWAY_RECEIVE if live else TimeQuality.UNKNOWN,
        "2026-13-02T07:30:00",
        30.0,
        FallbackReason.NO_DEVICE_TIME,
    )


@pytest.mark.parametrize(
    ("ahead", "trusted"),
    [
        (timedelta(minutes=10) - timedelta(seconds=1), True),
        (timedelta(minutes=10), True),  # exactly at the tolerance
        (timedelta(minutes=10) + timedelta(seconds=1), False),
        (timedelta(days=2), False),
        (timedelta(days=3650), False),
    ],
)
@pytest.mark.parametrize("live", [True, False])
def test_future_times(ahead: timedelta, trusted: bool, live: bool) -> None:
    decision = decide_time(evidence(WALL_NOW + ahead, live=live))
    if trusted:
        assert (decision.measured_at, decision.quality) == (
            RECEIVED + ahead,
            TimeQuality.DEVICE_CLOCK,
        )
    else:
        assert decision.measured_at == RECEIVED
        assert decision.quality is (TimeQuality.GATEWAY_RECEIVE if live else TimeQuality.UNKNOWN)
        assert decision.fallback is FallbackReason.IN_FUTURE
        assert decision.device_time == (WALL_NOW + ahead).isoformat()


def test_future_judged_after_correction() -> None:
    # The meter runs an hour fast: a record an hour "ahead" on its clock was taken just now.
    decision = decide_time(evidence(WALL_NOW + timedelta(minutes=59), 3600.0))
    assert decision.quality is TimeQuality.DEVICE_CLOCK
    assert decision.measured_at == RECEIVED - timedelta(minutes=1)


@pytest.mark.parametrize(
    "wall",
    [
        datetime(2000, 1, 1),  # battery change reset
        datetime(2000, 1, 1, 0, 0, 5),
        datetime(1, 1, 1),  # "year 0" after a decoder clamps it
        datetime(1970, 1, 1),
    ],
)
def test_clock_resets_fall_back(wall: datetime) -> None:
    decision = decide_time(evidence(wall, live=True))
    assert (decision.measured_at, decision.quality) == (RECEIVED, TimeQuality.GATEWAY_RECEIVE)
    assert decision.fallback in (FallbackReason.TOO_OLD, FallbackReason.OUT_OF_RANGE)


def test_out_of_range_correction_falls_back() -> None:
    decision = decide_time(evidence(datetime(9999, 12, 31, 23, 0), -1e7))
    assert decision.quality is TimeQuality.UNKNOWN
    assert decision.fallback is FallbackReason.OUT_OF_RANGE


@pytest.mark.parametrize(
    ("before", "trusted"),
    [(timedelta(0), True), (timedelta(seconds=1), False)],
)
def test_earliest_boundary(before: timedelta, trusted: bool) -> None:
    # A receive time close to the earliest date, so max_age does not decide.
    received = EARLIEST_PLAUSIBLE + timedelta(days=30)
    wall = datetime(2015, 1, 1, 8, 0) - before  # 2015-01-01T00:00Z in WITA, minus `before`
    decision = decide_time(TimeEvidence(wall, received, WITA))
    assert (decision.fallback is None) is trusted
    if trusted:
        assert decision.measured_at == EARLIEST_PLAUSIBLE


@pytest.mark.parametrize(
    ("extra", "trusted"),
    [(timedelta(0), True), (timedelta(seconds=1), False), (-timedelta(seconds=1), True)],
)
def test_max_age_boundary(extra: timedelta, trusted: bool) -> None:
    oldest = WALL_NOW - timedelta(days=2 * 365)
    decision = decide_time(evidence(oldest - extra))
    assert (decision.quality is TimeQuality.DEVICE_CLOCK) is trusted
    if not trusted:
        assert decision.fallback is FallbackReason.TOO_OLD


def test_window_is_configurable() -> None:
    window = PlausibilityWindow(future_tolerance=timedelta(0), synced_tolerance_s=30.0)
    ahead = decide_time(evidence(WALL_NOW + timedelta(seconds=1), window=window))
    assert ahead.fallback is FallbackReason.IN_FUTURE
    assert decide_time(evidence(WALL_NOW, 31.0, window=window)).quality is TimeQuality.DEVICE_CLOCK


@pytest.mark.parametrize(
    ("zone", "wall", "utc"),
    [
        ("Asia/Makassar", datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 28, 18, 30)),
        ("Asia/Jakarta", datetime(2026, 11, 27, 12, 0), datetime(2026, 11, 27, 5, 0)),
        ("Asia/Jayapura", datetime(2026, 11, 27, 14, 0), datetime(2026, 11, 27, 5, 0)),
        ("UTC", datetime(2026, 11, 27, 5, 0), datetime(2026, 11, 27, 5, 0)),
        ("Europe/Berlin", datetime(2026, 7, 1, 12, 0), datetime(2026, 7, 1, 10, 0)),  # CEST
        ("Europe/Berlin", datetime(2026, 1, 15, 12, 0), datetime(2026, 1, 15, 11, 0)),  # CET
    ],
)
def test_site_zones(zone: str, wall: datetime, utc: datetime) -> None:
    received = utc.replace(tzinfo=UTC) + timedelta(hours=1)
    decision = decide_time(TimeEvidence(wall, received, site_zone(zone), clock_offset_s=5.0))
    assert decision.measured_at == utc.replace(tzinfo=UTC) - timedelta(seconds=5)
    assert decision.quality is TimeQuality.SYNCED


@pytest.mark.parametrize(
    ("wall", "utc"),
    [
        # 2026-03-29 02:30 never happens in Berlin (02:00 CET -> 03:00 CEST): read with the
        # offset before the jump (CET), and never SYNCED, since the meter's hour is a guess.
        (datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        # 2026-10-25 02:30 happens twice in Berlin (CEST, then CET): the first one is taken.
        (datetime(2026, 10, 25, 2, 30), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
    ],
    ids=["gap", "fold"],
)
def test_dst_gap_and_fold_wall_times(wall: datetime, utc: datetime) -> None:
    assert is_ambiguous_or_missing(wall, BERLIN)
    received = utc.replace(hour=6, minute=0)
    evidence = TimeEvidence(wall, received, BERLIN, clock_offset_s=0.0)
    decision = decide_time(evidence)
    assert decision.measured_at == utc
    assert decision.quality is TimeQuality.DEVICE_CLOCK
    # Two hours later the wall time is unambiguous and synced again.
    assert decide_time(replace_wall(evidence, hours=2)).quality is TimeQuality.SYNCED


def replace_wall(ev: TimeEvidence, *, hours: int) -> TimeEvidence:
    assert ev.device_wall is not None
    return replace(ev, device_wall=ev.device_wall + timedelta(hours=hours))


def test_dst_free_zones_have_no_gaps() -> None:
    for zone in ("Asia/Makassar", "Asia/Jakarta", "Asia/Jayapura"):
        for day in range(1, 366, 7):
            wall = datetime(2026, 1, 1) + timedelta(days=day, hours=2, minutes=30)
            assert not is_ambiguous_or_missing(wall, site_zone(zone))


def test_drifting_clock_whole_memory_corrected_by_todays_offset() -> None:
    # A meter losing 1 s a day, last set 200 days ago, is 200 s slow now. Its whole memory is
    # corrected by today's offset: the newest record is right, the oldest over-corrected by the
    # drift since it was stamped (no wire format reveals that).
    offset = -200.0
    for days_ago in (0, 100, 200):
        wall = WALL_NOW - timedelta(days=days_ago) + timedelta(seconds=offset)
        decision = decide_time(evidence(wall, offset))
        assert decision.measured_at == RECEIVED - timedelta(days=days_ago)
        assert decision.quality is TimeQuality.DEVICE_CLOCK


def test_drift_crossing_the_threshold() -> None:
    # The same meter drifting: in sync at 120 s, device clock one second later.
    wall = WALL_NOW - timedelta(hours=2)
    qualities = [decide_time(evidence(wall, float(s))).quality for s in (119, 120, 121)]
    assert qualities == [TimeQuality.SYNCED, TimeQuality.SYNCED, TimeQuality.DEVICE_CLOCK]


def test_nan_offset_is_unmeasured() -> None:
    decision = decide_time(evidence(WALL_NOW, float("nan")))
    assert (decision.quality, decision.clock_offset_s) == (TimeQuality.DEVICE_CLOCK, None)


def test_bad_inputs_are_value_errors() -> None:
    with pytest.raises(ValueError, match="naive"):
        TimeEvidence(RECEIVED, RECEIVED, WITA)
    with pytest.raises(ValueError, match="aware"):
        TimeEvidence(WALL_NOW, WALL_NOW, WITA)


walls = st.one_of(
    st.none(), st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))
)
offsets = st.one_of(
    st.none(), st.floats(min_value=-1e8, max_value=1e8), st.just(float("nan"))
)
zones = st.sampled_from(["Asia/Makassar", "Asia/Jakarta", "Europe/Berlin", "America/New_York"])
receipts = st.datetimes(
    min_value=datetime(2016, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@given(walls, offsets, zones, receipts, st.booleans(), st.booleans())
def test_property_any_input_gives_aware_utc_inside_the_window(
    wall: datetime | None,
    offset: float | None,
    zone: str,
    received: datetime,
    live: bool,
    clock_set: bool,
) -> None:
    window = PlausibilityWindow()
    decision = decide_time(
        TimeEvidence(wall, received, site_zone(zone), offset, clock_set, live)
    )
    assert decision.measured_at.tzinfo is UTC
    assert received - window.max_age <= decision.measured_at
    assert decision.measured_at <= received + window.future_tolerance
    if decision.fallback is not None:
        assert decision.measured_at == received
        expected = TimeQuality.GATEWAY_RECEIVE if live else TimeQuality.UNKNOWN
        assert decision.quality is expected
    else:
        assert decision.quality in (TimeQuality.SYNCED, TimeQuality.DEVICE_CLOCK)
    if decision.quality is TimeQuality.SYNCED and not clock_set:
        # Synced never when the offset is unknown (or NaN) and the gateway did not set it.
        assert decision.clock_offset_s is not None
        assert abs(decision.clock_offset_s) <= window.synced_tolerance_s


@given(walls, offsets, receipts)
def test_property_trusted_time_is_wall_minus_offset(
    wall: datetime | None, offset: float | None, received: datetime
) -> None:
    decision = decide_time(TimeEvidence(wall, received, WITA, offset))
    if decision.fallback is None:
        assert wall is not None
        applied = decision.clock_offset_s or 0.0
        assert decision.measured_at == wall_to_utc(wall, WITA) - timedelta(seconds=applied)
        assert decision.device_time == wall.isoformat()
