"""Central's referral rules agree with what the kiosk told the resident, case by case."""

from __future__ import annotations

import pytest

from central.referral_rules import ReferralRules, Severity, payload_severity
from kiosk.classify import Assessment, classify_bp, classify_glucose
from kiosk.thresholds import load_thresholds

THRESHOLDS = load_thresholds()
RULES = ReferralRules()


def kiosk_severity(assessment: Assessment) -> Severity | None:
    """What the kiosk's screen means for the worklist: the urgent banner is today, a
    "visit this week" referral a week, a grade 1 band a month."""
    if assessment.urgent:
        return Severity.URGENT
    if assessment.band is None:
        return None
    if assessment.band.key in {"grade_2", "grade_3", "suspected"}:
        return Severity.SOON
    if assessment.band.key == "grade_1":
        return Severity.ROUTINE
    return None


BP_CASES = [
    (118, 76, None),
    (129.4, 84.4, None),
    (139.5, 80, Severity.ROUTINE),  # rounds to 140, as on the screen
    (139.4, 89.4, None),
    (140, 70, Severity.ROUTINE),  # isolated systolic
    (120, 90, Severity.ROUTINE),
    (159, 99, Severity.ROUTINE),
    (160, 85, Severity.SOON),
    (150, 100, Severity.SOON),
    (180, 110, Severity.SOON),  # grade 3 but not above the crisis line
    (180.4, 119.6, Severity.SOON),
    (181, 90, Severity.URGENT),
    (150, 121, Severity.URGENT),
    (None, 90, None),
]


@pytest.mark.parametrize(("systolic", "diastolic", "expected"), BP_CASES)
def test_bp_agrees_with_the_kiosk(
    systolic: float | None, diastolic: float | None, expected: Severity | None
) -> None:
    kiosk = kiosk_severity(classify_bp(systolic, diastolic, 72, THRESHOLDS))
    values = {"systolic_mmhg": systolic, "diastolic_mmhg": diastolic}
    central = payload_severity("blood_pressure", values, RULES)
    assert central == kiosk == expected


GLUCOSE_CASES = [
    (85, False, False, False, None),
    (150, False, False, False, None),  # random borderline: no referral
    (199.4, False, False, False, None),
    (199.5, False, False, False, Severity.SOON),
    (99, True, False, False, None),
    (100, True, False, False, Severity.SOON),
    (69.4, False, False, False, Severity.URGENT),
    (70, True, False, False, None),
    (50, True, False, False, Severity.URGENT),
    (299, False, False, False, Severity.SOON),
    (300, False, False, False, Severity.URGENT),
    (None, False, True, False, Severity.URGENT),
    (None, False, False, True, Severity.URGENT),
    (None, False, False, False, None),
]


@pytest.mark.parametrize(("mgdl", "fasting", "hi", "lo", "expected"), GLUCOSE_CASES)
def test_glucose_agrees_with_the_kiosk(
    mgdl: float | None, fasting: bool, hi: bool, lo: bool, expected: Severity | None
) -> None:
    kiosk = kiosk_severity(classify_glucose(mgdl, fasting=fasting, hi=hi, lo=lo, t=THRESHOLDS))
    values = {
        "glucose_mgdl": mgdl,
        "meal": "fasting" if fasting else "casual",
        "hi": hi,
        "lo": lo,
        "control_solution": False,
    }
    assert payload_severity("glucose", values, RULES) == kiosk == expected


def test_a_control_solution_test_is_never_a_referral() -> None:
    values = {"glucose_mgdl": 350, "hi": False, "lo": False, "control_solution": True}
    assert payload_severity("glucose", values, RULES) is None


def test_due_days_must_cover_every_severity() -> None:
    with pytest.raises(ValueError, match="due_days needs a value for routine"):
        ReferralRules(due_days={Severity.URGENT: 0, Severity.SOON: 7})
    with pytest.raises(ValueError, match="must not be negative"):
        ReferralRules(due_days={Severity.URGENT: -1, Severity.SOON: 7, Severity.ROUTINE: 30})
