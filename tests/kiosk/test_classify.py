"""Boundary tables for the screening categories (PNPK 2021 BP, PERKENI capillary glucose)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.classify import classify_bp, classify_glucose, whole
from kiosk.thresholds import DEFAULT_PATH, ThresholdsError, load_thresholds

T = load_thresholds()


@pytest.mark.parametrize(
    ("sys", "dia", "band", "isolated"),
    [
        (119, 79, "optimal", False),
        (120, 79, "normal", False),
        (119, 80, "normal", False),
        (129, 84, "normal", False),
        (130, 84, "high_normal", False),
        (129, 85, "high_normal", False),
        (139, 89, "high_normal", False),
        (140, 89, "grade_1", True),  # isolated systolic at its lower edge
        (139, 90, "grade_1", False),
        (159, 99, "grade_1", False),
        (160, 99, "grade_2", False),
        (159, 100, "grade_2", False),
        (179, 109, "grade_2", False),
        (180, 109, "grade_3", False),
        (179, 110, "grade_3", False),
        (125, 95, "grade_1", False),  # the higher of the two categories wins
        (165, 82, "grade_2", True),
        (150, 90, "grade_1", False),  # diastolic 90 is not "< 90": not isolated
        (185, 70, "grade_3", True),
        (100, 60, "optimal", False),
        (139.4, 89.4, "high_normal", False),  # rounded to what the screen shows
        (139.5, 80, "grade_1", True),
    ],
)
def test_bp_bands(sys: float, dia: float, band: str, isolated: bool) -> None:
    found = classify_bp(sys, dia, 70, T)
    assert found.band is not None
    assert (found.band.key, found.isolated_systolic) == (band, isolated)
    assert ("isolated_systolic" in found.messages) is isolated


@pytest.mark.parametrize(
    ("sys", "dia", "urgent"),
    [(180, 100, False), (181, 100, True), (150, 120, False), (150, 121, True), (200, 125, True)],
)
def test_bp_urgent_is_strictly_above_the_crisis_limits(sys: int, dia: int, urgent: bool) -> None:
    found = classify_bp(sys, dia, 70, T)
    assert found.urgent is urgent
    assert ("urgent_bp" in found.messages) is urgent


@pytest.mark.parametrize(
    ("sys", "dia", "messages"),
    [
        (118, 76, ()),
        (135, 86, ()),
        (145, 92, ("repeat",)),
        (165, 85, ("isolated_systolic", "refer", "repeat")),
        (170, 105, ("refer", "repeat")),
        (190, 115, ("urgent_bp",)),  # urgent: go now, no "this week", no "wait 5 minutes"
        (181, 80, ("urgent_bp", "isolated_systolic")),
    ],
)
def test_bp_messages_refer_and_repeat(sys: int, dia: int, messages: tuple[str, ...]) -> None:
    assert classify_bp(sys, dia, 70, T).messages == messages


@pytest.mark.parametrize(
    ("pulse", "check"), [(39, True), (40, False), (120, False), (121, True), (None, False)]
)
def test_pulse_outside_limits_advises_a_check(pulse: int | None, check: bool) -> None:
    assert ("pulse_check" in classify_bp(118, 76, pulse, T).messages) is check


def test_bp_without_values() -> None:
    found = classify_bp(None, 80, 70, T)
    assert (found.band, found.urgent, found.messages) == (None, False, ("no_value",))


@pytest.mark.parametrize(
    ("mgdl", "fasting", "band", "urgent"),
    [
        (53, True, "low", True),
        (54, True, "low", True),
        (69, True, "low", True),
        (70, True, "normal", False),
        (89, True, "normal", False),
        (90, True, "borderline", False),
        (99, True, "borderline", False),
        (100, True, "suspected", False),
        (299, True, "suspected", False),
        (300, True, "suspected", True),
        (89, False, "normal", False),
        (90, False, "borderline", False),
        (199, False, "borderline", False),
        (200, False, "suspected", False),
        (299, False, "suspected", False),
        (300, False, "suspected", True),
        (99.4, True, "borderline", False),
        (99.5, True, "suspected", False),
    ],
)
def test_glucose_bands(mgdl: float, fasting: bool, band: str, urgent: bool) -> None:
    found = classify_glucose(mgdl, fasting=fasting, hi=False, lo=False, t=T)
    assert found.band is not None
    assert (found.band.key, found.urgent) == (band, urgent)
    assert found.messages[-1] == "glucose_disclaimer"
    assert ("refer" in found.messages) is (band == "suspected" and not urgent)


@pytest.mark.parametrize(
    ("mgdl", "messages"),
    [
        (53, ("urgent_glucose_low", "serious_glucose_low", "glucose_disclaimer")),
        (54, ("urgent_glucose_low", "glucose_disclaimer")),
        (300, ("urgent_glucose_high", "glucose_disclaimer")),
    ],
)
def test_glucose_urgent_messages(mgdl: int, messages: tuple[str, ...]) -> None:
    assert classify_glucose(mgdl, fasting=False, hi=False, lo=False, t=T).messages == messages


def test_meter_hi_lo_and_missing() -> None:
    hi = classify_glucose(None, fasting=False, hi=True, lo=False, t=T)
    assert (hi.band and hi.band.key, hi.urgent, hi.messages) == (
        "suspected",
        True,
        ("urgent_glucose_hi", "glucose_disclaimer"),
    )
    lo = classify_glucose(None, fasting=True, hi=False, lo=True, t=T)
    assert (lo.band and lo.band.key, lo.urgent) == ("low", True)
    none = classify_glucose(None, fasting=True, hi=False, lo=False, t=T)
    assert (none.band, none.urgent, none.messages) == (
        None,
        False,
        ("no_value", "glucose_disclaimer"),
    )


@pytest.mark.parametrize(("value", "shown"), [(139.49, 139), (139.5, 140), (0.5, 1), (99.0, 99)])
def test_whole_rounds_half_up(value: float, shown: int) -> None:
    assert whole(value) == shown


def _contrast(hex_colour: str, other: str = "#ffffff") -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    a, b = sorted((luminance(hex_colour), luminance(other)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def test_every_band_colour_carries_white_text_readably() -> None:
    for band in (*T.bp_bands, *T.glucose_bands):
        assert _contrast(band.colour) >= 4.5, band.key


def test_posbindu_field_practice_is_one_edit_away(tmp_path: Path) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    edited = text.replace(
        "[glucose.random]\nborderline_from = 90", "[glucose.random]\nborderline_from = 200"
    )
    assert edited != text
    path = tmp_path / "thresholds.toml"
    path.write_text(edited, encoding="utf-8")
    posbindu = load_thresholds(path)
    found = classify_glucose(150, fasting=False, hi=False, lo=False, t=posbindu)
    assert found.band is not None and found.band.key == "normal"
    assert classify_glucose(150, fasting=False, hi=False, lo=False, t=T).band == T.glucose_bands[2]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('label = { id = "Optimal", en = "Optimal" }', 'label = { id = "Optimal" }', "en"),
        ("systolic_from = 130", "systolic_from = 110", "must start above"),
        ('refer_from = "grade_2"', 'refer_from = "grade_9"', "unknown band"),
        ("suspected_from = 100", "suspected_from = 80", "suspected_from"),
        ('colour = "#1a7f37"', 'colour = "green"', "colour"),
        ("serious_below = 54", "serious_below = 75", "serious_below"),
        ("[messages]\n", "[messages]\nx = 1\n[messages2]\n", "incomplete"),
    ],
)
def test_broken_tables_are_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "thresholds.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ThresholdsError, match=message):
        load_thresholds(path)


def test_missing_file_is_a_thresholds_error(tmp_path: Path) -> None:
    with pytest.raises(ThresholdsError, match="cannot read"):
        load_thresholds(tmp_path / "nope.toml")
