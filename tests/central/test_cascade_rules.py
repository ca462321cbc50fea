"""Central's cascade categories agree with the kiosk's on the same values (two copies of one
national table must not drift), and its rules refuse nonsense."""

from __future__ import annotations

import pytest

from central.cascade_rules import (
    CascadeRules,
    bp_category,
    bp_urgent,
    glucose_category,
    glucose_urgent,
    parse_rules,
)
from central.errors import CentralConfigError
from kiosk.classify import classify_bp, classify_glucose
from kiosk.thresholds import load_thresholds

THRESHOLDS = load_thresholds()

BP_CASES = [
    (100, 60, "optimal"), (119.4, 79.4, "optimal"), (119.5, 70, "normal"), (120, 79, "normal"),
    (110, 80, "normal"), (129, 84, "normal"), (130, 70, "high_normal"), (125, 85, "high_normal"),
    (139, 89, "high_normal"), (140, 70, "grade_1"), (120, 90, "grade_1"), (159, 99, "grade_1"),
    (160, 80, "grade_2"), (150, 100, "grade_2"), (179, 109, "grade_2"), (180, 80, "grade_3"),
    (120, 110, "grade_3"), (181, 90, "grade_3"), (170, 121, "grade_3"), (220, 140, "grade_3"),
]  # fmt: skip


@pytest.mark.parametrize(("systolic", "diastolic", "expected"), BP_CASES)
def test_bp_category_and_urgency_agree_with_the_kiosk(
    systolic: float, diastolic: float, expected: str
) -> None:
    kiosk = classify_bp(systolic, diastolic, 70, THRESHOLDS)
    assert kiosk.band is not None
    assert bp_category(systolic, diastolic) == kiosk.band.key == expected
    assert bp_urgent(systolic, diastolic) is kiosk.urgent


GLUCOSE_CASES = [
    # (mg/dL, fasting, hi, lo, expected category, urgent)
    (53, False, False, False, "low", True), (69.4, True, False, False, "low", True),
    (70, False, False, False, "normal", False), (89, True, False, False, "normal", False),
    (90, True, False, False, "borderline", False), (99, True, False, False, "borderline", False),
    (100, True, False, False, "suspected", False), (100, False, False, False, "borderline", False),
    (199, False, False, False, "borderline", False), (200, False, False, False, "suspected", False),
    (299, False, False, False, "suspected", False), (300, False, False, False, "suspected", True),
    (None, False, True, False, "suspected", True), (None, False, False, True, "low", True),
]  # fmt: skip


@pytest.mark.parametrize(("mgdl", "fasting", "hi", "lo", "expected", "urgent"), GLUCOSE_CASES)
def test_glucose_category_and_urgency_agree_with_the_kiosk(
    mgdl: float | None, fasting: bool, hi: bool, lo: bool, expected: str, urgent: bool
) -> None:
    kiosk = classify_glucose(mgdl, fasting=fasting, hi=hi, lo=lo, t=THRESHOLDS)
    assert kiosk.band is not None
    assert glucose_category(mgdl, fasting=fasting, hi=hi, lo=lo) == kiosk.band.key == expected
    assert glucose_urgent(mgdl, hi=hi, lo=lo) is kiosk.urgent is urgent


def test_no_glucose_value_is_not_counted() -> None:
    assert glucose_category(None, fasting=False) is None


def test_posbindu_practice_is_a_setting() -> None:
    rules = parse_rules(
        {"glucose_random_borderline_from": 200, "glucose_random_suspected_from": 201}
    )
    assert glucose_category(150, fasting=False, rules=rules) == "normal"
    assert glucose_category(150, fasting=False) == "borderline"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"bp_urgent": 1}, "unknown key 'bp_urgent'"),
        ({"bp_systolic_from": [130, 120, 140, 160, 180]}, "5 ascending bounds"),
        ({"bp_systolic_from": "120"}, "list of whole numbers"),
        ({"positive_bp_from": "grade_9"}, "positive_bp_from must be one of"),
        ({"glucose_urgent_from": "300"}, "must be a whole number"),
        ({"glucose_fasting_suspected_from": 90}, "glucose fasting bounds must ascend"),
    ],
)
def test_rules_refuse_nonsense_with_the_key_named(data: dict[str, object], message: str) -> None:
    with pytest.raises(CentralConfigError, match=message):
        parse_rules(data)


def test_default_rules_are_the_documented_tables() -> None:
    assert CascadeRules().bp_systolic_from == (120, 130, 140, 160, 180)
    assert CascadeRules().positive_bp_from == "grade_1"
