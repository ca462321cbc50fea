"""Issue 10 item 9: where to go with a result, with the Puskesmas' phone and opening hours,
on the kiosk's result, in the take-home QR, and on the kader's result view (QR included)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.config import parse_config
from gateway.errors import ConfigError
from gateway.kiosk_host import kiosk_settings
from kiosk.results import qr_svg

from .helpers import (
    KADER_PIN,
    NIK_MAN,
    bp_reading,
    follow,
    glucose_reading,
    make_rig,
    post,
    running,
)
from .test_app_resident import measuring

PHONE = "0542-873210"
HOURS = "Senin–Kamis 07.30–14.00, Jumat 07.30–11.00"
_SVG = re.compile(r"<svg.*?</svg>", re.S)


def qr_of(html: str) -> str:
    match = _SVG.search(html)
    assert match, "no QR on the page"
    return match.group(0)


async def test_kiosk_result_and_qr_carry_phone_and_opening_hours() -> None:
    rig = make_rig(puskesmas_phone=PHONE, puskesmas_hours=HOURS)
    async with running(rig) as client:
        await measuring(client, {"blood_pressure": "1"})
        rig.clock.advance(40)
        await rig.deliver("bp", bp_reading(rig.clock.now, 152, 96))
        page = await follow(client, await client.get("/hasil"))
    assert page.url.path == "/hasil"
    assert f"Telepon: {PHONE}" in page.text
    assert f"Jam buka: {HOURS}" in page.text
    expected = "\n".join(
        [
            "Gempita — Kios Karang Jati",
            "27-11-2026 10:00 WITA: Tekanan darah: 152/96 mmHg, 72 /menit — Hipertensi derajat 1",
            "Rujukan: Puskesmas Karang Jati, Jl. Jend. Sudirman, Balikpapan Tengah",
            f"Telepon: {PHONE}",
            f"Jam buka: {HOURS}",
        ]
    )
    assert qr_of(page.text) == qr_svg(expected)


async def test_without_phone_or_hours_nothing_empty_is_shown() -> None:
    rig = make_rig(puskesmas_phone=None)
    async with running(rig) as client:
        await measuring(client, {"blood_pressure": "1"})
        rig.clock.advance(40)
        await rig.deliver("bp", bp_reading(rig.clock.now, 118, 76))
        page = await follow(client, await client.get("/hasil"))
    assert "Telepon" not in page.text and "Jam buka" not in page.text
    assert "Puskesmas Karang Jati, Jl. Jend. Sudirman" in page.text


async def test_kader_result_shows_the_referral_and_a_qr_to_take_home() -> None:
    rig = make_rig(puskesmas_phone=PHONE, puskesmas_hours=HOURS)
    async with running(rig) as client:
        home = await post(client, "/kader/masuk", {"kader": "kader01", "pin": KADER_PIN})
        form = await follow(client, await client.get("/kader/daftar"))
        data = {"nik": NIK_MAN, "birth_year": "1985", "label": "Pak A.", "consent": "yes"}
        page = await post(client, "/kader/daftar", data, form.text)
        entry_url = page.url.path
        assert "<svg" not in page.text and "Jam buka" not in page.text  # nothing measured yet
        page = await post(client, f"{entry_url}/ukur", {"test": "glucose_fasting"}, page.text)
        rig.clock.advance(40)
        await rig.deliver("glucose", glucose_reading(rig.clock.now, 131, seq=5))
        page = await follow(client, await client.get(entry_url))
    assert home.url.path == "/kader"
    assert "131 mg/dL" in page.text
    assert "Puskesmas rujukan:</strong> Puskesmas Karang Jati" in page.text
    assert PHONE in page.text and f"Jam buka: {HOURS}" in page.text
    expected = "\n".join(
        [
            "Gempita — Kios Karang Jati",
            "27-11-2026 10:00 WITA: Gula darah puasa: 131 mg/dL — Diduga diabetes",
            "Gula darah kapiler: skrining, bukan diagnosis",
            "Rujukan: Puskesmas Karang Jati, Jl. Jend. Sudirman, Balikpapan Tengah",
            f"Telepon: {PHONE}",
            f"Jam buka: {HOURS}",
        ]
    )
    assert qr_of(page.text) == qr_svg(expected)
    assert NIK_MAN not in page.text


def _config(tmp_path: Path, **settings: object) -> dict[str, object]:
    (tmp_path / "programme.key").write_text(bytes(range(32)).hex())
    (tmp_path / "central.pub").write_text(bytes(range(32, 64)).hex())
    return {
        "gateway": {"id": "gw-1", "state_dir": str(tmp_path)},
        "kiosk": {
            "enabled": True,
            "settings": {
                "puskesmas_name": "Puskesmas Karang Jati",
                "puskesmas_address": "Jl. Mayjen Sutoyo",
                "admin_password_hash": "scrypt$16384$8$1$x$y",
                "programme_key_file": str(tmp_path / "programme.key"),
                "central_public_key_file": str(tmp_path / "central.pub"),
                **settings,
            },
        },
    }


def test_phone_and_hours_come_from_the_gateway_config(tmp_path: Path) -> None:
    config = parse_config(
        _config(tmp_path, puskesmas_phone=PHONE, puskesmas_hours=HOURS), source="test"
    )
    settings = kiosk_settings(config)
    assert (settings.puskesmas_phone, settings.puskesmas_hours) == (PHONE, HOURS)
    with pytest.raises(ConfigError, match=r"kiosk\.settings\.puskesmas_phone: expected text"):
        kiosk_settings(parse_config(_config(tmp_path, puskesmas_phone=542873210), source="t"))


def test_the_example_config_shows_phone_and_hours() -> None:
    example = (Path(__file__).resolve().parents[2] / "gateway.example.toml").read_text()
    assert re.search(r'^puskesmas_phone = "[^"]+"', example, re.M)
    assert re.search(r'^puskesmas_hours = "[^"]+"', example, re.M)
