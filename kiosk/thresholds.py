"""Loads the screening thresholds and advice texts (kiosk/thresholds.toml) and checks them."""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).with_name("thresholds.toml")
LANGUAGES = ("id", "en")


class ThresholdsError(ValueError):
    """The thresholds file is missing something or contradicts itself."""


Texts = Mapping[str, str]  # language -> text


@dataclass(frozen=True, slots=True)
class Band:
    key: str
    rank: int  # position in the table: higher is more severe
    colour: str
    label: Texts
    advice: Texts
    systolic_from: int = 0  # BP bands only
    diastolic_from: int = 0


@dataclass(frozen=True, slots=True)
class GlucoseCutoffs:
    borderline_from: int
    suspected_from: int


@dataclass(frozen=True, slots=True)
class Thresholds:
    version: str
    bp_bands: tuple[Band, ...]
    bp_urgent_systolic_above: int
    bp_urgent_diastolic_above: int
    bp_isolated_systolic_from: int
    bp_isolated_diastolic_below: int
    bp_refer_from: int  # rank
    bp_repeat_from: int  # rank
    pulse_low_below: int
    pulse_high_above: int
    glucose_bands: tuple[Band, ...]  # low, normal, borderline, suspected
    glucose_fasting: GlucoseCutoffs
    glucose_random: GlucoseCutoffs
    glucose_urgent_below: int
    glucose_serious_below: int
    glucose_urgent_from: int
    glucose_refer_from: int  # rank
    messages: Mapping[str, Texts]

    def band(self, kind: str, key: str) -> Band:
        bands = self.bp_bands if kind == "bp" else self.glucose_bands
        for band in bands:
            if band.key == key:
                return band
        raise KeyError(key)


MESSAGE_KEYS = (
    "urgent_bp",
    "urgent_glucose_low",
    "serious_glucose_low",
    "urgent_glucose_high",
    "urgent_glucose_hi",
    "urgent_glucose_lo",
    "isolated_systolic",
    "refer",
    "repeat",
    "pulse_check",
    "glucose_disclaimer",
    "no_value",
)
GLUCOSE_BAND_KEYS = ("low", "normal", "borderline", "suspected")


def load_thresholds(path: Path | None = None) -> Thresholds:
    source = path or DEFAULT_PATH
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
        return _parse(data)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ThresholdsError(f"cannot read thresholds from {source}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ThresholdsError):
            raise
        raise ThresholdsError(f"thresholds file {source} is incomplete: {exc!r}") from exc


def _parse(data: Mapping[str, Any]) -> Thresholds:
    bp, glucose, pulse = data["bp"], data["glucose"], data["pulse"]
    bp_bands = tuple(_band(raw, rank, bp=True) for rank, raw in enumerate(bp["band"]))
    for lower, upper in itertools.pairwise(bp_bands):
        if not (
            upper.systolic_from > lower.systolic_from
            and upper.diastolic_from > lower.diastolic_from
        ):
            raise ThresholdsError(f"BP band {upper.key} must start above {lower.key}")
    glucose_bands = tuple(_band(raw, rank, bp=False) for rank, raw in enumerate(glucose["band"]))
    if tuple(b.key for b in glucose_bands) != GLUCOSE_BAND_KEYS:
        raise ThresholdsError(f"glucose bands must be {GLUCOSE_BAND_KEYS}")
    fasting = _cutoffs(glucose["fasting"])
    random = _cutoffs(glucose["random"])
    messages = {key: _texts(data["messages"][key], key) for key in MESSAGE_KEYS}
    thresholds = Thresholds(
        version=str(data["version"]),
        bp_bands=bp_bands,
        bp_urgent_systolic_above=int(bp["urgent_systolic_above"]),
        bp_urgent_diastolic_above=int(bp["urgent_diastolic_above"]),
        bp_isolated_systolic_from=int(bp["isolated_systolic_from"]),
        bp_isolated_diastolic_below=int(bp["isolated_diastolic_below"]),
        bp_refer_from=_rank(bp_bands, bp["refer_from"]),
        bp_repeat_from=_rank(bp_bands, bp["repeat_from"]),
        pulse_low_below=int(pulse["low_below"]),
        pulse_high_above=int(pulse["high_above"]),
        glucose_bands=glucose_bands,
        glucose_fasting=fasting,
        glucose_random=random,
        glucose_urgent_below=int(glucose["urgent_below"]),
        glucose_serious_below=int(glucose["serious_below"]),
        glucose_urgent_from=int(glucose["urgent_from"]),
        glucose_refer_from=_rank(glucose_bands, glucose["refer_from"]),
        messages=messages,
    )
    if thresholds.glucose_serious_below > thresholds.glucose_urgent_below:
        raise ThresholdsError("glucose serious_below must not exceed urgent_below")
    return thresholds


def _band(raw: Mapping[str, Any], rank: int, *, bp: bool) -> Band:
    key = str(raw["key"])
    colour = str(raw["colour"])
    if len(colour) != 7 or not colour.startswith("#"):
        raise ThresholdsError(f"band {key}: colour must be #rrggbb")
    int(colour[1:], 16)
    return Band(
        key=key,
        rank=rank,
        colour=colour,
        label=_texts(raw["label"], f"{key}.label"),
        advice=_texts(raw["advice"], f"{key}.advice"),
        systolic_from=int(raw["systolic_from"]) if bp else 0,
        diastolic_from=int(raw["diastolic_from"]) if bp else 0,
    )


def _cutoffs(raw: Mapping[str, Any]) -> GlucoseCutoffs:
    cut = GlucoseCutoffs(int(raw["borderline_from"]), int(raw["suspected_from"]))
    if cut.suspected_from < cut.borderline_from:
        raise ThresholdsError("glucose suspected_from must not be below borderline_from")
    return cut


def _texts(raw: Mapping[str, Any], where: str) -> Texts:
    missing = [lang for lang in LANGUAGES if not str(raw.get(lang, "")).strip()]
    if missing:
        raise ThresholdsError(f"{where}: no text for {', '.join(missing)}")
    return {lang: str(raw[lang]) for lang in LANGUAGES}


def _rank(bands: tuple[Band, ...], key: str) -> int:
    for band in bands:
        if band.key == key:
            return band.rank
    raise ThresholdsError(f"unknown band {key!r}")
