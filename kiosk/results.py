"""What a resident reads for a result, and the QR code they take home.

Everything here is derived from the reading, the thresholds table and the site settings; the
QR text carries values, category, time and site only, never the NIK or the pseudonym.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import segno

from core.reading import AssuranceStatus, BloodPressure, Glucose, Reading
from kiosk.classify import Assessment, classify_bp, classify_glucose, whole
from kiosk.deps import KioskSettings
from kiosk.i18n import text
from kiosk.measure import Measurement
from kiosk.thresholds import Thresholds


@dataclass(frozen=True, slots=True)
class ResultView:
    kind: str  # "blood_pressure" | "glucose"
    title: str
    values: tuple[tuple[str, str], ...]  # (label, "142/91 mmHg")
    category: str | None
    colour: str | None
    advice: str | None
    urgent: tuple[str, ...]  # texts for the urgent banner
    notes: tuple[str, ...]  # further messages (referral, repeat, pulse, disclaimer)
    measured_at: str  # local time, e.g. "27-11-2026 21:30 WITA"
    summary: str  # one line for the QR and the kader's day list
    # "Alat perlu diperiksa": the device was out of the kit's assurance policy; the number is
    # shown (it was stored) but should not be acted on alone.
    device_check: str | None = None


def assess(measurement: Measurement, t: Thresholds) -> Assessment:
    reading = measurement.reading
    if reading is None:
        raise ValueError("measurement has no reading yet")
    values = reading.values
    if isinstance(values, BloodPressure):
        return classify_bp(values.systolic_mmhg, values.diastolic_mmhg, values.pulse_bpm, t)
    fasting = measurement.fasting if measurement.fasting is not None else values.meal == "fasting"
    return classify_glucose(values.glucose_mgdl, fasting=fasting, hi=values.hi, lo=values.lo, t=t)


def build_view(
    measurement: Measurement, t: Thresholds, settings: KioskSettings, lang: str
) -> ResultView:
    reading = measurement.reading
    if reading is None:
        raise ValueError("measurement has no reading yet")
    found = assess(measurement, t)
    local = reading.measured_at.astimezone(ZoneInfo(settings.timezone))
    when = f"{local:%d-%m-%Y %H:%M} {settings.timezone_label}"
    values = reading.values
    rows: list[tuple[str, str]]
    if isinstance(values, BloodPressure):
        title = text("result_bp_title", lang)
        rows = [(text("result_bp_value", lang), _bp_text(values))]
        if values.pulse_bpm is not None:
            rows.append(
                (text("result_pulse", lang), f"{whole(values.pulse_bpm)} /{text('per_min', lang)}")
            )
    else:
        fasting = found_fasting(measurement, values)
        title = text("result_glucose_fasting" if fasting else "result_glucose_random", lang)
        rows = [(text("result_glucose_value", lang), _glucose_text(values))]
    band = found.band
    category = band.label[lang] if band else None
    if band is not None and found.isolated_systolic:
        category = f"{category} — {text('isolated_systolic_short', lang)}"
    place = settings.puskesmas_name
    urgent = tuple(
        t.messages[key][lang].format(puskesmas=place)
        for key in found.messages
        if key.startswith(("urgent_", "serious_"))
    )
    notes = tuple(
        t.messages[key][lang].format(puskesmas=place)
        for key in found.messages
        if not key.startswith(("urgent_", "serious_"))
    )
    value_text = ", ".join(v for _, v in rows)
    summary = f"{title}: {value_text}" + (f" — {category}" if category else "")
    return ResultView(
        kind=reading.kind.value,
        title=title,
        values=tuple(rows),
        category=category,
        colour=band.colour if band else None,
        advice=band.advice[lang] if band else None,
        urgent=urgent,
        notes=notes,
        measured_at=when,
        summary=summary,
        device_check=device_check(reading, lang),
    )


def device_check(reading: Reading, lang: str) -> str | None:
    assurance = reading.assurance
    if assurance is None or assurance.status is not AssuranceStatus.OUT_OF_POLICY:
        return None
    return text("device_check", lang)


def found_fasting(measurement: Measurement, values: Glucose) -> bool:
    if measurement.fasting is not None:
        return measurement.fasting
    return values.meal == "fasting"


def _bp_text(values: BloodPressure) -> str:
    if values.systolic_mmhg is None or values.diastolic_mmhg is None:
        return "—"
    return f"{whole(values.systolic_mmhg)}/{whole(values.diastolic_mmhg)} mmHg"


def _glucose_text(values: Glucose) -> str:
    if values.hi:
        return "HI"
    if values.lo:
        return "LO"
    if values.glucose_mgdl is None:
        return "—"
    return f"{whole(values.glucose_mgdl)} mg/dL"


def qr_text(views: Sequence[ResultView], settings: KioskSettings, lang: str) -> str:
    lines = [f"Gempita — {settings.site_name}"]
    for view in views:
        lines.append(f"{view.measured_at}: {view.summary}")
        if view.kind == "glucose":
            lines.append(text("qr_glucose_note", lang))
    lines.extend(referral_lines(settings, lang))
    return "\n".join(lines)


def referral_lines(settings: KioskSettings, lang: str) -> list[str]:
    """Where to go with a result, and how to reach it (the QR and the kader's copy)."""
    place = f"{settings.puskesmas_name}, {settings.puskesmas_address}"
    lines = [f"{text('qr_referral', lang)}: {place}"]
    if settings.puskesmas_phone:
        lines.append(f"{text('referral_phone', lang)}: {settings.puskesmas_phone}")
    if settings.puskesmas_hours:
        lines.append(f"{text('referral_hours', lang)}: {settings.puskesmas_hours}")
    return lines


def qr_svg(payload: str) -> str:
    """Inline SVG (no external file, no script). It has a viewBox and no fixed size: the page's
    CSS sizes it for a phone camera at arm's length, larger on a larger screen."""
    code = segno.make(payload, error="m", micro=False)
    svg: str = code.svg_inline(scale=3, dark="#000", light="#fff", border=2, omitsize=True)
    return svg
