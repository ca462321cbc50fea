"""The kit-assurance policy (core/assurance.py): every reason code, and how they combine."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.assurance import (
    ControlRange,
    ControlResult,
    Entries,
    Policy,
    Reason,
    judge,
    judge_control,
)
from core.reading import AssuranceStatus, Kind
from tests.support.clock import FakeClock

TODAY = date(2026, 11, 27)
RANGE = ControlRange(low_mgdl=100, high_mgdl=140, lot="CV-11", expires=date(2027, 3, 1))
FIT_METER = Entries(strip_lot="S-9", strip_expires=date(2027, 1, 31), control=RANGE)
FIT_MONITOR = Entries(calibration_due=date(2027, 6, 1))
POLICY = Policy(control_every_days=7, battery_critical_pct=10)


def control(clock: FakeClock, days_ago: float, value: float | None,
            vial: ControlRange | None = RANGE) -> ControlResult:
    return judge_control(f"c-{days_ago}-{value}", clock() - timedelta(days=days_ago), value, vial)


def glucose(clock: FakeClock, entries: Entries, controls: tuple[ControlResult, ...],
            battery: int | None = None, policy: Policy = POLICY) -> tuple[str, tuple[str, ...]]:
    verdict = judge(Kind.GLUCOSE, entries, controls, battery, policy, clock(), TODAY)
    return verdict.status.value, verdict.reasons


def test_a_fit_glucometer_is_ok() -> None:
    clock = FakeClock()
    assert glucose(clock, FIT_METER, (control(clock, 2, 120),)) == ("ok", ())


def test_a_fit_bp_monitor_is_ok_and_an_overdue_one_is_not() -> None:
    clock = FakeClock()
    assert judge(Kind.BLOOD_PRESSURE, FIT_MONITOR, (), 80, POLICY, clock(), TODAY).status \
        is AssuranceStatus.OK
    overdue = Entries(calibration_due=TODAY - timedelta(days=1))
    verdict = judge(Kind.BLOOD_PRESSURE, overdue, (), None, POLICY, clock(), TODAY)
    assert (verdict.status, verdict.reasons) == (
        AssuranceStatus.OUT_OF_POLICY, (Reason.CALIBRATION_OVERDUE,))
    # Due today is still in date: the monitor may be used until the end of that day.
    due_today = Entries(calibration_due=TODAY)
    assert judge(Kind.BLOOD_PRESSURE, due_today, (), None, POLICY, clock(), TODAY).reasons == ()


def test_a_bp_monitor_without_a_due_date_is_unknown_unless_the_policy_waives_it() -> None:
    clock = FakeClock()
    verdict = judge(Kind.BLOOD_PRESSURE, Entries(), (), None, POLICY, clock(), TODAY)
    assert (verdict.status, verdict.reasons) == (
        AssuranceStatus.UNKNOWN, (Reason.CALIBRATION_NOT_ENTERED,))
    waived = Policy(calibration_required=False)
    assert judge(Kind.BLOOD_PRESSURE, Entries(), (), None, waived, clock(), TODAY).status \
        is AssuranceStatus.OK


def test_a_control_outside_the_vial_range_fails_and_a_later_pass_clears_it() -> None:
    clock = FakeClock()
    failed = control(clock, 1, 180)
    assert failed.passed is False
    assert glucose(clock, FIT_METER, (control(clock, 3, 120), failed)) == (
        "out_of_policy", (Reason.CONTROL_FAILED,))
    assert glucose(clock, FIT_METER, (failed, control(clock, 0.5, 101))) == ("ok", ())
    # HI/LO from a control test: no value, outside every range.
    assert glucose(clock, FIT_METER, (control(clock, 1, None),)) == (
        "out_of_policy", (Reason.CONTROL_FAILED, Reason.NO_PASSING_CONTROL))


def test_no_passing_control_within_the_window() -> None:
    clock = FakeClock()
    assert glucose(clock, FIT_METER, ()) == ("out_of_policy", (Reason.NO_PASSING_CONTROL,))
    stale = (control(clock, 8, 120),)
    assert glucose(clock, FIT_METER, stale) == ("out_of_policy", (Reason.NO_PASSING_CONTROL,))
    assert glucose(clock, FIT_METER, stale, policy=Policy(control_every_days=10)) == ("ok", ())
    clock.advance(3 * 86400)  # the same log, three days on
    assert glucose(clock, FIT_METER, (control(clock, 6.9, 120),)) == ("ok", ())


def test_expired_strips_and_vial_are_out_of_policy() -> None:
    clock = FakeClock()
    passing = (control(clock, 1, 120),)
    expired_strips = Entries(strip_lot="S-1", strip_expires=TODAY - timedelta(days=1),
                             control=RANGE)
    assert glucose(clock, expired_strips, passing) == (
        "out_of_policy", (Reason.STRIPS_EXPIRED,))
    old_vial = ControlRange(100, 140, lot="CV-1", expires=TODAY - timedelta(days=1))
    entries = Entries(strip_lot="S-9", strip_expires=TODAY, control=old_vial)
    assert glucose(clock, entries, (control(clock, 1, 120, old_vial),)) == (
        "out_of_policy", (Reason.CONTROL_VIAL_EXPIRED,))


def test_battery_critical_at_or_below_the_threshold() -> None:
    clock = FakeClock()
    passing = (control(clock, 1, 120),)
    assert glucose(clock, FIT_METER, passing, battery=11) == ("ok", ())
    assert glucose(clock, FIT_METER, passing, battery=10) == (
        "out_of_policy", (Reason.BATTERY_CRITICAL,))
    verdict = judge(Kind.BLOOD_PRESSURE, FIT_MONITOR, (), 3, POLICY, clock(), TODAY)
    assert verdict.reasons == (Reason.BATTERY_CRITICAL,)


def test_nothing_entered_is_unknown_plus_what_is_already_known_to_be_wrong() -> None:
    clock = FakeClock()
    unjudged = (control(clock, 1, 120, vial=None),)
    assert unjudged[0].passed is None
    assert glucose(clock, Entries(), unjudged) == (
        "out_of_policy",
        (Reason.STRIPS_NOT_ENTERED, Reason.CONTROL_RANGE_NOT_ENTERED, Reason.NO_PASSING_CONTROL),
    )
    waived = Policy(control_every_days=7)
    only_unknown = judge(Kind.GLUCOSE, Entries(control=RANGE), (control(clock, 1, 120),),
                         None, waived, clock(), TODAY)
    assert (only_unknown.status, only_unknown.reasons) == (
        AssuranceStatus.UNKNOWN, (Reason.STRIPS_NOT_ENTERED,))
    nothing = judge(None, Entries(), (), None, POLICY, clock(), TODAY)
    assert nothing.status is AssuranceStatus.UNKNOWN


@pytest.mark.parametrize(("low", "high"), [(0, 10), (150, 100), (-5, 10)])
def test_a_range_that_cannot_be_is_refused_with_its_edges(low: float, high: float) -> None:
    with pytest.raises(ValueError, match="low edge"):
        ControlRange(low, high)


def test_policy_values_that_cannot_be() -> None:
    with pytest.raises(ValueError, match="control_every_days"):
        Policy(control_every_days=0)
    with pytest.raises(ValueError, match="battery_critical_pct"):
        Policy(battery_critical_pct=101)
