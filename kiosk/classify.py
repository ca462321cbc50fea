"""Turns measured values into a band, an urgency and the messages to show.

Values are rounded to whole units first, so the band always matches the number on screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kiosk.thresholds import Band, Thresholds


@dataclass(frozen=True, slots=True)
class Assessment:
    band: Band | None  # None: no usable value (or a meter LO)
    urgent: bool
    messages: tuple[str, ...]  # keys into Thresholds.messages, in display order
    isolated_systolic: bool = False


def whole(value: float) -> int:
    """Round half up, the way a person reads a value off a display."""
    return math.floor(value + 0.5)


def _band_for(bands: tuple[Band, ...], value: int, *, systolic: bool) -> Band:
    chosen = bands[0]
    for band in bands:
        if value >= (band.systolic_from if systolic else band.diastolic_from):
            chosen = band
    return chosen


def classify_bp(
    systolic: float | None, diastolic: float | None, pulse: float | None, t: Thresholds
) -> Assessment:
    if systolic is None or diastolic is None:
        return Assessment(band=None, urgent=False, messages=("no_value",))
    sys_v, dia_v = whole(systolic), whole(diastolic)
    by_sys = _band_for(t.bp_bands, sys_v, systolic=True)
    by_dia = _band_for(t.bp_bands, dia_v, systolic=False)
    band = by_sys if by_sys.rank >= by_dia.rank else by_dia
    isolated = sys_v >= t.bp_isolated_systolic_from and dia_v < t.bp_isolated_diastolic_below
    urgent = sys_v > t.bp_urgent_systolic_above or dia_v > t.bp_urgent_diastolic_above
    messages: list[str] = []
    if urgent:
        messages.append("urgent_bp")
    if isolated:
        messages.append("isolated_systolic")
    # An urgent result says "go now": a "this week" referral or "measure again in 5 minutes"
    # next to it would only invite delay.
    if not urgent and band.rank >= t.bp_refer_from:
        messages.append("refer")
    if not urgent and band.rank >= t.bp_repeat_from:
        messages.append("repeat")
    if pulse is not None:
        pulse_v = whole(pulse)
        if pulse_v < t.pulse_low_below or pulse_v > t.pulse_high_above:
            messages.append("pulse_check")
    return Assessment(
        band=band, urgent=urgent, messages=tuple(messages), isolated_systolic=isolated
    )


def classify_glucose(
    mgdl: float | None, *, fasting: bool, hi: bool, lo: bool, t: Thresholds
) -> Assessment:
    if hi:
        return Assessment(
            band=t.glucose_bands[-1],
            urgent=True,
            messages=("urgent_glucose_hi", "glucose_disclaimer"),
        )
    low, normal, borderline, suspected = t.glucose_bands
    if lo:
        return Assessment(
            band=low, urgent=True, messages=("urgent_glucose_lo", "glucose_disclaimer")
        )
    if mgdl is None:
        return Assessment(band=None, urgent=False, messages=("no_value", "glucose_disclaimer"))
    value = whole(mgdl)
    cut = t.glucose_fasting if fasting else t.glucose_random
    if value < t.glucose_urgent_below:
        band = low
    elif value >= cut.suspected_from:
        band = suspected
    elif value >= cut.borderline_from:
        band = borderline
    else:
        band = normal
    messages: list[str] = []
    urgent = False
    if value < t.glucose_urgent_below:
        urgent = True
        messages.append("urgent_glucose_low")
        if value < t.glucose_serious_below:
            messages.append("serious_glucose_low")
    elif value >= t.glucose_urgent_from:
        urgent = True
        messages.append("urgent_glucose_high")
    if not urgent and band.rank >= t.glucose_refer_from:
        messages.append("refer")
    messages.append("glucose_disclaimer")
    return Assessment(band=band, urgent=urgent, messages=tuple(messages))
