"""What the operator's and the kader's assurance pages share: reading the form, the messages
for bad input, and each device's policy state as the pages show it.

Both pages write the same book (`KioskDeps.assurance`) through `parse_entries`, so a value
one page refuses the other refuses too. Sans-I/O: nothing here touches the book or a clock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from core.assurance import OUT_OF_POLICY_REASONS, ControlRange, ControlResult, Entries
from kiosk.i18n import TEXTS, text

_LOGGER = logging.getLogger(__name__)

KINDS = ("blood_pressure", "glucose")
STATUSES = ("ok", "unknown", "out_of_policy")
# The form's fields, and the label each error message names it by.
FIELD_LABELS: Mapping[str, str] = {
    "calibration_due": "mutu_calibration_due",
    "strip_expires": "mutu_strip_expires",
    "control_expires": "mutu_control_expires",
    "control_low": "mutu_control_low_short",
    "control_high": "mutu_control_high_short",
}
# A phone or browser without a date picker sends what the kader typed: Indonesians write
# day-month-year, so that is read too (the picker itself always sends YYYY-MM-DD).
_DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")
TEXT_MAX = 40  # a lot number is short; a longer value is a paste gone wrong


class EntryError(ValueError):
    """A field that cannot be read; `key` is its i18n message, `field` the form field."""

    def __init__(self, key: str, field: str | None = None, **args: str) -> None:
        super().__init__(key)
        self.key = key
        self.field = field
        self.params = args

    def message(self, lang: str) -> str:
        args = dict(self.params)
        if self.field is not None:
            args["field"] = text(FIELD_LABELS[self.field], lang)
        return text(self.key, lang, **args)


def parse_date(raw: str, field: str) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        pass
    found = _DMY.fullmatch(raw)
    if found:
        day, month, year = (int(g) for g in found.groups())
        try:
            return date(year, month, day)
        except ValueError:
            pass  # 31-02-2027: a real date's shape, not a real date
    raise EntryError("mutu_bad_date", field, value=raw[:TEXT_MAX])


def _number(form: Mapping[str, str], field: str) -> float | None:
    raw = form.get(field, "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise EntryError("mutu_range_number", field) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise EntryError("mutu_range_number", field)
    return value


def _text(form: Mapping[str, str], field: str) -> str | None:
    return " ".join(form.get(field, "").split())[:TEXT_MAX] or None


def parse_entries(form: Mapping[str, str]) -> Entries:
    """The entries a form asks for; `EntryError` for a value that cannot be data.

    An expiry date in the past is data (the device becomes out of policy), not an error.
    """
    low, high = _number(form, "control_low"), _number(form, "control_high")
    control = None
    if low is None and high is None:
        if _text(form, "control_lot") or form.get("control_expires", "").strip():
            raise EntryError("mutu_range_missing")
    elif low is None or high is None:
        raise EntryError("mutu_range_missing")
    elif low <= 0:
        raise EntryError("mutu_range_positive")
    elif low > high:
        raise EntryError("mutu_range_order", low=f"{low:g}", high=f"{high:g}")
    else:
        control = ControlRange(
            low,
            high,
            lot=_text(form, "control_lot"),
            expires=parse_date(form.get("control_expires", ""), "control_expires"),
        )
    return Entries(
        calibration_due=parse_date(form.get("calibration_due", ""), "calibration_due"),
        strip_lot=_text(form, "strip_lot"),
        strip_expires=parse_date(form.get("strip_expires", ""), "strip_expires"),
        control=control,
    )


def form_values(entries: Entries) -> dict[str, str]:
    """The form's fields as stored, for the page to show."""
    c = entries.control
    return {
        "calibration_due": entries.calibration_due.isoformat() if entries.calibration_due else "",
        "strip_lot": entries.strip_lot or "",
        "strip_expires": entries.strip_expires.isoformat() if entries.strip_expires else "",
        "control_low": f"{c.low_mgdl:g}" if c else "",
        "control_high": f"{c.high_mgdl:g}" if c else "",
        "control_lot": (c.lot or "") if c else "",
        "control_expires": c.expires.isoformat() if c and c.expires else "",
    }


def typed_values(form: Mapping[str, str]) -> dict[str, str]:
    """What was typed, shown again with the error so nothing has to be typed twice."""
    return {name: form.get(name, "").strip()[:TEXT_MAX] for name in form_values(Entries())}


@dataclass(frozen=True, slots=True)
class DeviceState:
    """One device as the assurance pages list it."""

    name: str
    kind: str | None  # "blood_pressure", "glucose", or None: not known yet
    kind_label: str
    status: str | None  # one of STATUSES; None: the kit does not judge this device
    status_label: str
    reasons: tuple[str, ...]  # translated, out-of-policy ones first
    battery_pct: int | None

    @property
    def out_of_policy(self) -> bool:
        return self.status == "out_of_policy"


def reason_text(code: str, lang: str) -> str:
    key = f"mutu_reason_{code}"
    # A code this kiosk does not know yet (a newer gateway) is shown as it is, never dropped.
    return text(key, lang) if key in TEXTS else code


def device_state(row: Mapping[str, Any], lang: str) -> DeviceState:
    kind = row.get("kind") if row.get("kind") in KINDS else None
    assurance = row.get("assurance")
    status: str | None = None
    codes: list[str] = []
    if isinstance(assurance, Mapping) and assurance.get("status") in STATUSES:
        status = str(assurance["status"])
        codes = [str(r) for r in assurance.get("reasons") or ()]
    codes.sort(key=lambda code: code not in OUT_OF_POLICY_REASONS)
    battery = row.get("battery_pct")
    return DeviceState(
        name=str(row.get("name") or ""),
        kind=str(kind) if kind else None,
        kind_label=text(f"kind_{kind}" if kind else "kind_unknown", lang),
        status=status,
        status_label=text(f"mutu_state_{status or 'none'}", lang),
        reasons=tuple(reason_text(code, lang) for code in codes),
        battery_pct=battery if isinstance(battery, int) and not isinstance(battery, bool) else None,
    )


def device_states(rows: Sequence[Mapping[str, Any]], lang: str) -> list[DeviceState]:
    return [device_state(row, lang) for row in rows if row.get("name")]


def status_rows(fetch: Callable[[], Sequence[Mapping[str, Any]]]) -> list[Mapping[str, Any]]:
    """The kit's device rows; none when the gateway cannot say (the page must still open)."""
    try:
        return list(fetch())
    except Exception:
        _LOGGER.exception("device_status() failed")
        return []


def is_out_of_policy(row: Mapping[str, Any]) -> bool:
    assurance = row.get("assurance")
    return isinstance(assurance, Mapping) and assurance.get("status") == "out_of_policy"


def find_device(rows: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    """The status row of the device configured as `name`: the pages edit no other."""
    return next((row for row in rows if row.get("name") == name), None)


def expired_on_save(entries: Entries, today: date) -> bool:
    """An expiry already past: saved as data, and the page says what it does to the device."""
    dates = (entries.strip_expires, entries.control.expires if entries.control else None)
    return any(d is not None and d < today for d in dates)


@dataclass(frozen=True, slots=True)
class QcRow:
    """One control-solution test as the QC log shows it."""

    when: str  # DD-MM-YYYY HH:MM in the site's zone
    value: str  # mg/dL, or HI/LO
    result: str  # i18n key: passed, failed, or not judged (no vial range when logged)
    passed: bool | None


def qc_rows(qc: Sequence[ControlResult], zone: ZoneInfo, limit: int | None = None) -> list[QcRow]:
    """The QC log newest first, judged as it was when each test was logged."""
    rows = sorted(qc, key=lambda c: c.measured_at, reverse=True)
    return [
        QcRow(
            when=c.measured_at.astimezone(zone).strftime("%d-%m-%Y %H:%M"),
            # As the meter gave it (188.0): the log is evidence, not a rounded summary.
            value="HI/LO" if c.value_mgdl is None else str(c.value_mgdl),
            result="mutu_qc_unjudged"
            if c.passed is None
            else ("mutu_qc_pass" if c.passed else "mutu_qc_fail"),
            passed=c.passed,
        )
        for c in (rows if limit is None else rows[:limit])
    ]
