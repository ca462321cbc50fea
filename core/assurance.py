"""Kit assurance: is a device fit to give numbers someone will act on?

Pure policy, sans-I/O: the caller hands in what the kader entered, the device's quality-control
log, its battery level, the policy and the time; `judge` hands back a `core.reading.Assurance`
with short reason codes. Nothing here reads a file or a clock.

A value that is bad (an expired strip lot, a control result outside the vial's range) is data,
not an error: it is kept and makes the device out of policy. Only values that cannot be data
at all (a range whose low edge is above its high edge) raise `ValueError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.reading import Assurance, AssuranceStatus, Kind


class Reason:
    """The reason codes, in the payload's `assurance.reasons` (broker/TOPICS.md)."""

    # Out of policy: numbers from this device should not be acted on.
    CALIBRATION_OVERDUE = "calibration_overdue"
    NO_PASSING_CONTROL = "no_passing_control"
    CONTROL_FAILED = "control_failed"
    STRIPS_EXPIRED = "strips_expired"
    CONTROL_VIAL_EXPIRED = "control_vial_expired"
    BATTERY_CRITICAL = "battery_critical"
    # Unknown: nobody has told the kit enough to judge.
    CALIBRATION_NOT_ENTERED = "calibration_not_entered"
    STRIPS_NOT_ENTERED = "strips_not_entered"
    CONTROL_RANGE_NOT_ENTERED = "control_range_not_entered"


OUT_OF_POLICY_REASONS = frozenset(
    {
        Reason.CALIBRATION_OVERDUE,
        Reason.NO_PASSING_CONTROL,
        Reason.CONTROL_FAILED,
        Reason.STRIPS_EXPIRED,
        Reason.CONTROL_VIAL_EXPIRED,
        Reason.BATTERY_CRITICAL,
    }
)


@dataclass(frozen=True, slots=True)
class Policy:
    control_every_days: int = 7  # a glucometer needs a passing control test this recent
    battery_critical_pct: int = 10  # at or below this the device is out of policy
    # Without a due date entered a BP monitor is "unknown"; off, it is judged on the rest.
    calibration_required: bool = True

    def __post_init__(self) -> None:
        if self.control_every_days < 1:
            raise ValueError("control_every_days must be at least 1")
        if not 0 <= self.battery_critical_pct <= 100:
            raise ValueError("battery_critical_pct must be between 0 and 100")


@dataclass(frozen=True, slots=True)
class ControlRange:
    """The range printed on the control-solution vial, as the kader typed it."""

    low_mgdl: float
    high_mgdl: float
    lot: str | None = None
    expires: date | None = None

    def __post_init__(self) -> None:
        if not 0 < self.low_mgdl <= self.high_mgdl:
            raise ValueError(
                f"control range {self.low_mgdl:g}-{self.high_mgdl:g} mg/dL: the low edge must "
                "be above 0 and not above the high edge"
            )

    def passes(self, value_mgdl: float | None) -> bool:
        # A HI/LO control result has no value: it is outside any vial's range.
        return value_mgdl is not None and self.low_mgdl <= value_mgdl <= self.high_mgdl


@dataclass(frozen=True, slots=True)
class Entries:
    """What the operator or kader entered for one device."""

    calibration_due: date | None = None  # BP monitor: validation/calibration due date
    strip_lot: str | None = None
    strip_expires: date | None = None
    control: ControlRange | None = None


@dataclass(frozen=True, slots=True)
class ControlResult:
    """One control-solution test from the meter: the device's QC log, never a resident's."""

    reading_id: str
    measured_at: datetime  # UTC
    value_mgdl: float | None  # None: the meter said HI or LO
    passed: bool | None  # judged when logged against the vial range then; None: no range
    vial_lot: str | None = None


def judge_control(
    reading_id: str,
    measured_at: datetime,
    value_mgdl: float | None,
    control: ControlRange | None,
) -> ControlResult:
    """A control test judged against the vial range in force when it is logged."""
    return ControlResult(
        reading_id=reading_id,
        measured_at=measured_at,
        value_mgdl=value_mgdl,
        passed=None if control is None else control.passes(value_mgdl),
        vial_lot=None if control is None else control.lot,
    )


def judge(
    kind: Kind | None,
    entries: Entries,
    controls: tuple[ControlResult, ...],
    battery_pct: int | None,
    policy: Policy,
    now: datetime,
    today: date,
) -> Assurance:
    """The device's assurance now. `today` is the site's local date (expiry dates are local)."""
    reasons: list[str] = []
    if battery_pct is not None and battery_pct <= policy.battery_critical_pct:
        reasons.append(Reason.BATTERY_CRITICAL)
    if kind is Kind.BLOOD_PRESSURE:
        if entries.calibration_due is None:
            if policy.calibration_required:
                reasons.append(Reason.CALIBRATION_NOT_ENTERED)
        elif entries.calibration_due < today:
            reasons.append(Reason.CALIBRATION_OVERDUE)
    elif kind is Kind.GLUCOSE:
        reasons.extend(_glucose_reasons(entries, controls, policy, now, today))
    if any(reason in OUT_OF_POLICY_REASONS for reason in reasons):
        status = AssuranceStatus.OUT_OF_POLICY
    elif reasons or kind is None:
        status = AssuranceStatus.UNKNOWN
    else:
        status = AssuranceStatus.OK
    return Assurance(status, tuple(reasons))


def _glucose_reasons(
    entries: Entries,
    controls: tuple[ControlResult, ...],
    policy: Policy,
    now: datetime,
    today: date,
) -> list[str]:
    reasons: list[str] = []
    if entries.strip_expires is None:
        reasons.append(Reason.STRIPS_NOT_ENTERED)
    elif entries.strip_expires < today:
        reasons.append(Reason.STRIPS_EXPIRED)
    if entries.control is None:
        reasons.append(Reason.CONTROL_RANGE_NOT_ENTERED)
    elif entries.control.expires is not None and entries.control.expires < today:
        reasons.append(Reason.CONTROL_VIAL_EXPIRED)
    since = now - timedelta(days=policy.control_every_days)
    recent = sorted(
        (c for c in controls if since <= c.measured_at <= now and c.passed is not None),
        key=lambda c: c.measured_at,
    )
    if recent and recent[-1].passed is False:
        # The latest test failed: a passing one before it says nothing about the meter now.
        reasons.append(Reason.CONTROL_FAILED)
    if not any(c.passed for c in recent):
        reasons.append(Reason.NO_PASSING_CONTROL)
    return reasons
