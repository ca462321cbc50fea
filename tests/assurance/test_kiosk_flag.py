"""The resident's result page flags a reading from an out-of-policy device, in both
languages, and leaves results from fit devices unmarked (kiosk/results.py)."""

from __future__ import annotations

import dataclasses

import pytest

from core.reading import Assurance, AssuranceStatus
from kiosk.i18n import text
from tests.kiosk.helpers import (
    NIK_MAN,
    bp_reading,
    follow,
    make_rig,
    post,
    running,
)
from tests.kiosk.test_app_admin import admin_login

FLAG_ID = "Alat perlu diperiksa"
FLAG_EN = "Device needs checking"


async def measured(lang: str, assurance: Assurance | None) -> str:
    rig = make_rig()
    async with running(rig) as client:
        page = await post(client, "/mulai", {"lang": lang})
        page = await post(client, "/persetujuan", {"choice": "adult"}, page.text)
        page = await post(client, "/identitas", {"nik": NIK_MAN,
                                                 "birth_year": "1985"}, page.text)
        page = await post(client, "/pilih", {"blood_pressure": "1"}, page.text)
        page = await post(client, "/ukur", {}, page.text)
        rig.clock.advance(2)
        reading = dataclasses.replace(bp_reading(rig.clock.now, 131, 85), assurance=assurance)
        await rig.deliver("bp", reading)
        result = await follow(client, await client.get("/ukur"))
        assert result.url.path == "/hasil", result.text
        assert "131/85 mmHg" in result.text  # the number is shown: it was stored
        return result.text


@pytest.mark.parametrize(("lang", "flag"), [("id", FLAG_ID), ("en", FLAG_EN)])
async def test_out_of_policy_device_is_flagged_on_the_result(lang: str, flag: str) -> None:
    page = await measured(lang, Assurance(AssuranceStatus.OUT_OF_POLICY,
                                          ("calibration_overdue",)))
    assert flag in page and "data-device-check" in page
    assert text("device_check", lang).startswith(flag)


@pytest.mark.parametrize("assurance", [None, Assurance(AssuranceStatus.OK),
                                       Assurance(AssuranceStatus.UNKNOWN,
                                                 ("calibration_not_entered",))])
async def test_a_fit_or_unjudged_device_is_not_flagged(assurance: Assurance | None) -> None:
    page = await measured("id", assurance)
    assert FLAG_ID not in page and "data-device-check" not in page


async def test_the_operator_page_flags_an_out_of_policy_device_with_its_reasons() -> None:
    rig = make_rig()
    rig.deps.device_status = lambda: [
        {"name": "bp", "kind": "blood_pressure", "state": "idle", "battery_pct": 80,
         "assurance": {"status": "ok", "reasons": []}},
        {"name": "glucose", "kind": "glucose", "state": "idle", "battery_pct": 5,
         "assurance": {"status": "out_of_policy",
                       "reasons": ["control_failed", "battery_critical"]}},
    ]
    async with running(rig) as client:
        page = await admin_login(client)
    html = page.text
    assert html.count("data-device-check") == 1
    assert "Alat perlu diperiksa: control_failed, battery_critical" in html
