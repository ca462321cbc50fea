"""Every text the app can show exists in Bahasa Indonesia and English."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

import kiosk
from kiosk.consent import CONSENT
from kiosk.i18n import LANGUAGE_NAMES, TEXTS, text
from kiosk.thresholds import load_thresholds

KIOSK_DIR = Path(kiosk.__file__).parent
LANGS = tuple(LANGUAGE_NAMES)


def _fields(value: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(value) if name}


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_every_key_in_every_language(key: str) -> None:
    entry = TEXTS[key]
    assert set(entry) == set(LANGS)
    for lang in LANGS:
        assert entry[lang].strip(), (key, lang)
    # Same placeholders in both languages, so a format call never breaks one of them.
    assert _fields(entry["id"]) == _fields(entry["en"]), key


def test_texts_used_in_templates_and_code_exist() -> None:
    used: set[str] = set()
    for path in (KIOSK_DIR / "templates").glob("*.html"):
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\('([a-z0-9_]+)'", source))
        used |= set(re.findall(r"\btext\('([a-z0-9_]+)'", source))
        used |= set(re.findall(r"'([a-z0-9_]+)' if ", source))
        used |= set(re.findall(r" else '([a-z0-9_]+)'", source))
    for path in KIOSK_DIR.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'flash_redirect\(\w+, "([a-z0-9_]+)"', source))
        used |= set(re.findall(r'StartError\("([a-z0-9_]+)"\)', source))
        used |= set(re.findall(r'\btext\("([a-z0-9_]+)"', source))
        used |= set(re.findall(r"\btext\('([a-z0-9_]+)'", source))
    # Keys built from a prefix at run time.
    used |= {f"nik_{p}" for p in ("format", "province", "date", "serial", "year")}
    used |= {f"login_{m}" for m in ("failed", "locked", "ended")}
    used |= {f"ended_{m}" for m in ("idle", "ended")}
    used = {key for key in used if not key.endswith("_")}
    assert len(used) > 100
    assert sorted(used - set(TEXTS)) == []


def test_text_formats_and_falls_back_to_indonesian() -> None:
    assert text("consent_version", "en", version="2026.1") == "Consent version: 2026.1"
    assert text("finish", "xx") == "Selesai"


def test_thresholds_texts_in_every_language() -> None:
    t = load_thresholds()
    for band in (*t.bp_bands, *t.glucose_bands):
        for lang in LANGS:
            assert band.label[lang].strip() and band.advice[lang].strip()
    for key, texts in t.messages.items():
        assert _fields(texts["id"]) == _fields(texts["en"]) <= {"puskesmas"}, key


@pytest.mark.parametrize("version", sorted(CONSENT))
def test_consent_texts_are_complete_in_every_language(version: str) -> None:
    texts = CONSENT[version]
    assert set(texts) == set(LANGS)
    headings = {lang: [h for h, _ in texts[lang].sections] for lang in LANGS}
    assert len({len(h) for h in headings.values()}) == 1
    for lang in LANGS:
        assert len(texts[lang].sections) >= 5  # purpose, data, retention, rights, controller
        assert texts[lang].agree_adult and texts[lang].guardian_statement
    # The Indonesian text names what UU PDP asks for.
    joined = " ".join(h for h in headings["id"])
    for word in ("Tujuan", "Data", "Penyimpanan", "Hak"):
        assert word in joined
