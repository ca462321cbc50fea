"""Which reading puts a resident on the referral worklist, and by when they must be reached.

Central may not import the kiosk (the floors), so the cut-offs the kiosk shows a resident are
restated here; tests/central/test_referral_rules.py holds both to the same table of cases, so
the worklist never disagrees with what the resident was told on the screen. Values are rounded
to whole units first, as the kiosk does, so the band matches the number the resident saw.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field


class Severity(enum.StrEnum):
    """Most pressing first: `rank` orders a worklist and decides which reading leads."""

    URGENT = "urgent"  # hypertensive crisis, hypo/hyperglycaemia, a meter HI/LO: today
    SOON = "soon"  # hypertension grade 2 or 3, suspected diabetes: within a week
    ROUTINE = "routine"  # hypertension grade 1: within a month

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.URGENT: 0, Severity.SOON: 1, Severity.ROUTINE: 2}


def _default_due_days() -> dict[Severity, int]:
    return {Severity.URGENT: 0, Severity.SOON: 7, Severity.ROUTINE: 30}


@dataclass(frozen=True, slots=True)
class ReferralRules:
    """The defaults are kiosk/thresholds.toml's (PNPK 2021 and PERKENI capillary tables)."""

    bp_urgent_systolic_above: int = 180
    bp_urgent_diastolic_above: int = 120
    bp_grade_1_from: tuple[int, int] = (140, 90)  # (systolic, diastolic), either reaches it
    bp_grade_2_from: tuple[int, int] = (160, 100)
    glucose_urgent_below: int = 70
    glucose_urgent_from: int = 300
    glucose_fasting_suspected_from: int = 100
    glucose_random_suspected_from: int = 200
    due_days: Mapping[Severity, int] = field(default_factory=_default_due_days)

    def __post_init__(self) -> None:
        missing = set(Severity) - set(self.due_days)
        if missing:
            raise ValueError(f"referral due_days needs a value for {sorted(missing)[0]}")
        if any(days < 0 for days in self.due_days.values()):
            raise ValueError("referral due_days must not be negative")


def whole(value: float) -> int:
    """Round half up, the way a person reads a value off a display (as the kiosk does)."""
    return math.floor(value + 0.5)


def bp_severity(
    systolic: float | None, diastolic: float | None, rules: ReferralRules
) -> Severity | None:
    if systolic is None or diastolic is None:
        return None
    sys_v, dia_v = whole(systolic), whole(diastolic)
    if sys_v > rules.bp_urgent_systolic_above or dia_v > rules.bp_urgent_diastolic_above:
        return Severity.URGENT
    if sys_v >= rules.bp_grade_2_from[0] or dia_v >= rules.bp_grade_2_from[1]:
        return Severity.SOON
    if sys_v >= rules.bp_grade_1_from[0] or dia_v >= rules.bp_grade_1_from[1]:
        return Severity.ROUTINE
    return None


def glucose_severity(
    mgdl: float | None, *, fasting: bool, hi: bool, lo: bool, rules: ReferralRules
) -> Severity | None:
    if hi or lo:
        return Severity.URGENT
    if mgdl is None:
        return None
    value = whole(mgdl)
    if value < rules.glucose_urgent_below or value >= rules.glucose_urgent_from:
        return Severity.URGENT
    suspected = (
        rules.glucose_fasting_suspected_from if fasting else rules.glucose_random_suspected_from
    )
    return Severity.SOON if value >= suspected else None


def _number(values: Mapping[str, object], key: str) -> float | None:
    value = values.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def payload_severity(
    kind: str, values: Mapping[str, object], rules: ReferralRules
) -> Severity | None:
    """The severity of one stored reading's `values`; None: nothing to follow up.

    A control-solution test measures the meter, not the resident: never a referral.
    """
    if kind == "blood_pressure":
        return bp_severity(
            _number(values, "systolic_mmhg"), _number(values, "diastolic_mmhg"), rules
        )
    if kind == "glucose":
        if values.get("control_solution") is True:
            return None
        return glucose_severity(
            _number(values, "glucose_mgdl"),
            fasting=values.get("meal") == "fasting",
            hi=values.get("hi") is True,
            lo=values.get("lo") is True,
            rules=rules,
        )
    return None
