"""The resident's result page flags a reading from an out-of-policy device, in both
languages, and leaves results from fit devices unmarked (kiosk/results.py)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from pathlib import Path

import pytest

from core.assurance import ControlRange, Entries, Policy
from core.clock import site_zone
from core.reading import Assurance, AssuranceStatus, Glucose, Kind
from gateway.assurance import AssuranceBook
from kiosk.i18n import text
from tests.kiosk.helpers import (
    NIK_MAN,
    bp_reading,
    csrf_of,
    follow,
    make_rig,
    post,
    running,
)
from tests.kiosk.test_app_admin import admin_login
from tests.support.clock import FakeClock
from tests.support.harness import make_reading

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
    # The reasons in words a kader acts on, not the payload's codes.
    assert (
        "Alat perlu diperiksa: Uji kontrol terakhir di luar rentang botol, Baterai hampir habis"
        in html
    )


async def test_the_operator_edits_a_meters_entries_and_sees_its_qc_log(tmp_path: Path) -> None:
    clock = FakeClock()
    book = AssuranceBook(tmp_path / "assurance.json", Policy(), site_zone("Asia/Makassar"),
                         clock)
    failed = dataclasses.replace(
        make_reading(1, kind=Kind.GLUCOSE), measured_at=clock(),
        values=Glucose(188.0, control_solution=True, sample_type="control_solution"))
    await asyncio.to_thread(book.log_controls, "glucose", [failed])
    rig = make_rig()
    rig.deps.assurance = book
    async with running(rig) as client:
        dashboard = await admin_login(client)
        assert 'href="/admin/mutu/glucose"' in dashboard.text
        page = await client.get("/admin/mutu/glucose")
        assert "Catatan uji kontrol" in page.text and "188.0" in page.text
        assert "Belum dinilai" in page.text  # no vial range when it was logged
        form = {"calibration_due": "", "strip_lot": "S-77", "strip_expires": "2027-01-31",
                "control_low": "100", "control_high": "140", "control_lot": "CV-9",
                "control_expires": "2027-05-01"}
        refused = await client.post("/admin/mutu/glucose", data={**form, "csrf": "forged"})
        assert refused.headers["location"] == "/admin/masuk"
        assert book.entries("glucose") == Entries()
        bad = await client.post("/admin/mutu/glucose", data={
            **form, "control_low": "150", "csrf": csrf_of(page.text)})
        assert bad.status_code == 400 and "Rentang kontrol salah" in bad.text
        assert book.entries("glucose") == Entries()
        saved = await client.post("/admin/mutu/glucose", data={**form,
                                                               "csrf": csrf_of(page.text)})
        assert saved.status_code in (302, 303)
        again = await client.get("/admin/mutu/glucose")
        assert 'value="S-77"' in again.text and 'value="2027-01-31"' in again.text
    reread = await asyncio.to_thread(
        AssuranceBook, tmp_path / "assurance.json", Policy(), site_zone("Asia/Makassar"), clock)
    assert reread.entries("glucose") == Entries(
        strip_lot="S-77", strip_expires=date(2027, 1, 31),
        control=ControlRange(100, 140, lot="CV-9", expires=date(2027, 5, 1)))
    # An expired strip lot is accepted as data, and makes the meter out of policy.
    expired = Entries(strip_lot="S-1", strip_expires=date(2020, 1, 1))
    await asyncio.to_thread(reread.set_entries, "glucose", expired)
    assert "strips_expired" in reread.verdict("glucose", Kind.GLUCOSE, None).reasons
