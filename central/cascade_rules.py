"""Central's own reading of a result: BP category, glucose category, urgent, screen-positive.

The kiosk classifies for the resident in front of it (kiosk/classify.py); central counts the
programme's cascade and may not import the kiosk, so the same national tables are written here
a second time, from ../shared/DOMAIN.md (PNPK hypertension, KMK HK.01.07/MENKES/4634/2021,
ESC/ESH 2018; PERKENI capillary glucose). tests/central/test_cascade_rules.py holds the two
against each other on a table of cases.

Values are rounded half up to whole units first, as the kiosk does, so a count agrees with the
number the resident saw. Every threshold is a field of `CascadeRules`, so a Dinkes that follows
Posbindu practice (random glucose < 200 "normal") changes a value, not code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from central.errors import CentralConfigError

# Ascending severity; the higher of the systolic and diastolic categories wins.
BP_CATEGORIES = ("optimal", "normal", "high_normal", "grade_1", "grade_2", "grade_3")
# "low" is hypoglycaemia, below the urgent bound, whatever the meal.
GLUCOSE_CATEGORIES = ("low", "normal", "borderline", "suspected")


@dataclass(frozen=True, slots=True)
class CascadeRules:
    # Lower bounds of normal, high-normal, grade 1, grade 2, grade 3 (optimal starts at 0).
    bp_systolic_from: tuple[int, int, int, int, int] = (120, 130, 140, 160, 180)
    bp_diastolic_from: tuple[int, int, int, int, int] = (80, 85, 90, 100, 110)
    # Hypertensive-crisis range: strictly above.
    bp_urgent_systolic_above: int = 180
    bp_urgent_diastolic_above: int = 120
    glucose_fasting_borderline_from: int = 90
    glucose_fasting_suspected_from: int = 100
    glucose_random_borderline_from: int = 90
    glucose_random_suspected_from: int = 200
    glucose_urgent_below: int = 70
    glucose_urgent_from: int = 300
    # Screen-positive: the result that should bring a resident to the Puskesmas to confirm.
    # Grade 1 is a positive hypertension screen (>= 140/90); suspected diabetes for glucose.
    positive_bp_from: str = "grade_1"
    positive_glucose_from: str = "suspected"

    def __post_init__(self) -> None:
        for name in ("bp_systolic_from", "bp_diastolic_from"):
            bounds = getattr(self, name)
            if list(bounds) != sorted(set(bounds)) or len(bounds) != len(BP_CATEGORIES) - 1:
                raise CentralConfigError(f"cascade rules: {name} must be 5 ascending bounds")
        if self.positive_bp_from not in BP_CATEGORIES:
            raise CentralConfigError(
                f"cascade rules: positive_bp_from must be one of {', '.join(BP_CATEGORIES)}"
            )
        if self.positive_glucose_from not in GLUCOSE_CATEGORIES:
            raise CentralConfigError(
                "cascade rules: positive_glucose_from must be one of "
                + ", ".join(GLUCOSE_CATEGORIES)
            )
        for kind in ("fasting", "random"):
            low = getattr(self, f"glucose_{kind}_borderline_from")
            high = getattr(self, f"glucose_{kind}_suspected_from")
            if not self.glucose_urgent_below <= low < high:
                raise CentralConfigError(
                    f"cascade rules: glucose {kind} bounds must ascend from urgent_below"
                )


DEFAULT_RULES = CascadeRules()


def parse_rules(data: Mapping[str, object]) -> CascadeRules:
    """Rules from a TOML-like table whose keys are `CascadeRules` fields; others refused."""
    known = {f.name for f in fields(CascadeRules)}
    unknown = set(data) - known
    if unknown:
        raise CentralConfigError(f"cascade rules: unknown key {sorted(unknown)[0]!r}")
    changes: dict[str, object] = {}
    for key, value in data.items():
        if key in ("bp_systolic_from", "bp_diastolic_from"):
            if not isinstance(value, list | tuple) or not all(_whole(v) for v in value):
                raise CentralConfigError(f"cascade rules: {key} must be a list of whole numbers")
            changes[key] = tuple(value)
        elif key.startswith("positive_"):
            if not isinstance(value, str):
                raise CentralConfigError(f"cascade rules: {key} must be a category name")
            changes[key] = value
        else:
            if not _whole(value):
                raise CentralConfigError(f"cascade rules: {key} must be a whole number")
            changes[key] = value
    return replace(DEFAULT_RULES, **changes)  # type: ignore[arg-type]


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole(value: float) -> int:
    """Round half up, as a person reads a display (and as the kiosk rounds)."""
    return math.floor(value + 0.5)


def _rank(bounds: tuple[int, ...], value: int) -> int:
    rank = 0
    for index, bound in enumerate(bounds, start=1):
        if value >= bound:
            rank = index
    return rank


def bp_category(systolic: float, diastolic: float, rules: CascadeRules = DEFAULT_RULES) -> str:
    sys_v, dia_v = whole(systolic), whole(diastolic)
    rank = max(_rank(rules.bp_systolic_from, sys_v), _rank(rules.bp_diastolic_from, dia_v))
    return BP_CATEGORIES[rank]


def bp_urgent(systolic: float, diastolic: float, rules: CascadeRules = DEFAULT_RULES) -> bool:
    return (
        whole(systolic) > rules.bp_urgent_systolic_above
        or whole(diastolic) > rules.bp_urgent_diastolic_above
    )


def glucose_category(
    mgdl: float | None,
    *,
    fasting: bool,
    hi: bool = False,
    lo: bool = False,
    rules: CascadeRules = DEFAULT_RULES,
) -> str | None:
    """None: no value to count (no number and no HI/LO)."""
    if hi:
        return "suspected"
    if lo:
        return "low"
    if mgdl is None:
        return None
    value = whole(mgdl)
    if value < rules.glucose_urgent_below:
        return "low"
    if fasting:
        borderline, suspected = (
            rules.glucose_fasting_borderline_from,
            rules.glucose_fasting_suspected_from,
        )
    else:
        borderline, suspected = (
            rules.glucose_random_borderline_from,
            rules.glucose_random_suspected_from,
        )
    if value >= suspected:
        return "suspected"
    if value >= borderline:
        return "borderline"
    return "normal"


def glucose_urgent(
    mgdl: float | None, *, hi: bool = False, lo: bool = False, rules: CascadeRules = DEFAULT_RULES
) -> bool:
    if hi or lo:
        return True
    if mgdl is None:
        return False
    value = whole(mgdl)
    return value < rules.glucose_urgent_below or value >= rules.glucose_urgent_from


def bp_positive(category: str, rules: CascadeRules = DEFAULT_RULES) -> bool:
    return BP_CATEGORIES.index(category) >= BP_CATEGORIES.index(rules.positive_bp_from)


def glucose_positive(category: str, rules: CascadeRules = DEFAULT_RULES) -> bool:
    # "low" sits first in the table but is never a negative screen: it is urgent on its own.
    return GLUCOSE_CATEGORIES.index(category) >= GLUCOSE_CATEGORIES.index(
        rules.positive_glucose_from
    )
