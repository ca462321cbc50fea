"""Issue 14 item 4, the kader's side: "Mutu alat" on the phone, over HTTP.

The kit is a rig with a real assurance book (gateway.assurance) whose verdicts reach the pages
the way the gateway's status rows carry them, so a save shows up in the device's state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.assurance import ControlRange, Entries, Policy
from core.clock import site_zone
from core.reading import Glucose, Kind
from gateway.assurance import AssuranceBook
from tests.support.clock import FakeClock
from tests.support.harness import make_reading

from .helpers import Rig, csrf_of, make_rig, post, running
from .test_app_admin import admin_login
from .test_login_lockout import kader_login

# The fake clock's day in Balikpapan (WITA): 27-11-2026.
TODAY = date(2026, 11, 27)
GOOD = {
    "strip_lot": "S-77",
    "strip_expires": "2027-01-31",
    "control_low": "100",
    "control_high": "140",
    "control_lot": "CV-9",
    "control_expires": "2027-05-01",
}


def kit_rig(tmp_path: Path, clock: FakeClock | None = None, **overrides: Any) -> Rig:
    rig = make_rig(clock, **overrides)
    attach_book(rig, tmp_path / "assurance.json")
    return rig


def attach_book(rig: Rig, path: Path) -> AssuranceBook:
    """A real book on `rig`, its verdicts in the device rows as GatewayService.device_status."""
    book = AssuranceBook(path, Policy(), site_zone("Asia/Makassar"), rig.clock)
    rows = [
        {"name": "bp", "kind": "blood_pressure", "state": "idle", "battery_pct": 80},
        {"name": "glucose", "kind": "glucose", "state": "idle", "battery_pct": 60},
    ]

    def device_status() -> list[dict[str, Any]]:
        return [
            {**row, "assurance": book.as_status(row["name"], row["kind"], row["battery_pct"])}
            for row in rows
        ]

    rig.deps.assurance = book
    rig.deps.device_status = device_status
    return book


def book_of(rig: Rig) -> AssuranceBook:
    book = rig.deps.assurance
    assert isinstance(book, AssuranceBook)
    return book


def control_test(clock: FakeClock, seq: int, mgdl: float, hours_ago: float) -> Any:
    return dataclasses.replace(
        make_reading(seq, kind=Kind.GLUCOSE),
        measured_at=clock() - timedelta(hours=hours_ago),
        values=Glucose(mgdl, control_solution=True, sample_type="control_solution"),
    )


def field_value(page: str, name: str) -> str | None:
    found = re.search(rf'<input [^>]*name="{name}"[^>]*value="([^"]*)"', page)
    return found.group(1) if found else None


async def save(client: httpx.AsyncClient, form: dict[str, str]) -> httpx.Response:
    page = await client.get("/kader/mutu/glucose")
    return await post(client, "/kader/mutu/glucose", form, page.text)


async def test_the_pages_need_a_signed_in_kader(tmp_path: Path) -> None:
    rig = kit_rig(tmp_path)
    async with running(rig) as client:
        for path in ("/kader/mutu", "/kader/mutu/glucose"):
            assert (await client.get(path)).headers["location"] == "/kader/masuk"
        refused = await client.post("/kader/mutu/glucose", data={**GOOD, "csrf": "x"})
        assert refused.headers["location"] == "/kader/masuk"
        # An operator's session is not a kader's.
        await admin_login(client)
        assert (await client.get("/kader/mutu")).headers["location"] == "/kader/masuk"
    assert book_of(rig).entries("glucose") == Entries()


async def test_the_list_shows_each_device_with_its_state_and_why(tmp_path: Path) -> None:
    rig = kit_rig(tmp_path)
    async with running(rig) as client:
        home = await kader_login(client)
        assert 'href="/kader/mutu"' in home.text
        page = await client.get("/kader/mutu")
    html = page.text
    assert page.status_code == 200
    assert 'href="/kader/mutu/bp"' in html and 'href="/kader/mutu/glucose"' in html
    # Nothing entered yet: the BP monitor cannot be judged; the meter, with no passing control
    # test, is out of policy. Each says why, the reason that flags it first.
    bp, glucose = html.split('href="/kader/mutu/glucose"')
    assert "Data mutu belum lengkap" in bp and "Tanggal validasi belum diisi operator" in bp
    assert "⚠ Alat perlu diperiksa" not in bp
    assert "⚠ Alat perlu diperiksa" in glucose
    reasons = (
        "Belum ada uji larutan kontrol yang lulus",
        "Lot dan kedaluwarsa strip belum diisi",
        "Rentang larutan kontrol belum diisi",
    )
    assert all(r in glucose for r in reasons)
    assert glucose.index(reasons[0]) < glucose.index(reasons[1])


async def test_the_kader_enters_the_strips_and_the_vial_and_sees_the_qc_log(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    rig = kit_rig(tmp_path, clock)
    book = book_of(rig)
    async with running(rig) as client:
        await kader_login(client)
        saved = await save(client, GOOD)
        assert saved.status_code == 200 and str(saved.url).endswith("/kader/mutu/glucose")
        assert "Data mutu alat tersimpan." in saved.text
        for name, value in GOOD.items():
            assert field_value(saved.text, name) == value, name
        assert book.entries("glucose") == Entries(
            strip_lot="S-77",
            strip_expires=date(2027, 1, 31),
            control=ControlRange(100, 140, lot="CV-9", expires=date(2027, 5, 1)),
        )
        # Control tests logged after the range is entered are judged against it.
        await asyncio.to_thread(
            book.log_controls,
            "glucose",
            [control_test(clock, 1, 151.0, 30), control_test(clock, 2, 120.0, 2)],
        )
        page = await client.get("/kader/mutu/glucose")
        assert "Rentang botol sekarang: 100–140 mg/dL" in page.text
        assert page.text.index("120.0") < page.text.index("151.0")  # newest first
        assert 'class="qc_pass">Lulus' in page.text and 'class="qc_fail">Gagal' in page.text
        assert 'data-status="ok"' in page.text and "Layak pakai" in page.text
        # The latest control test failing puts the meter out of policy, and says why.
        await asyncio.to_thread(book.log_controls, "glucose", [control_test(clock, 3, 90.0, 1)])
        page = await client.get("/kader/mutu/glucose")
        assert "data-device-check" in page.text
        assert "Uji kontrol terakhir di luar rentang botol" in page.text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"control_low": "150"},
            "Rentang kontrol salah: batas bawah (150) lebih tinggi dari batas atas (140).",
        ),
        ({"control_high": ""}, "Rentang kontrol salah: isi batas bawah dan batas atas"),
        ({"control_low": "seratus"}, "Rentang kontrol salah: batas bawah harus angka mg/dL"),
        ({"control_low": "0"}, "batas bawah harus lebih dari 0 mg/dL"),
        (
            {"strip_expires": "31-13-2027"},
            "Strip kedaluwarsa: tanggal &#34;31-13-2027&#34; tidak terbaca. Tulis TTTT-BB-HH",
        ),
        (
            {"control_expires": "besok"},
            "Larutan kontrol kedaluwarsa: tanggal &#34;besok&#34; tidak terbaca",
        ),
    ],
)
async def test_bad_input_is_refused_with_a_clear_message_and_kept_on_the_form(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    rig = kit_rig(tmp_path)
    async with running(rig) as client:
        await kader_login(client)
        bad = await save(client, {**GOOD, **change})
    assert bad.status_code == 400
    assert message in bad.text, bad.text
    assert 'role="alert"' in bad.text
    # What was typed stays on the form, the wrong value too, so it can be corrected.
    for name, value in {**GOOD, **change}.items():
        if value:
            assert field_value(bad.text, name) == html.escape(value), name
    assert book_of(rig).entries("glucose") == Entries()


async def test_bad_input_in_english(tmp_path: Path) -> None:
    rig = kit_rig(tmp_path)
    async with running(rig) as client:
        home = await kader_login(client)
        await post(client, "/kader/bahasa", {"lang": "en"}, home.text)
        bad = await save(client, {**GOOD, "control_low": "150"})
        assert bad.status_code == 400
        assert "the low edge (150) is above the high edge (140)" in bad.text
        listed = await client.get("/kader/mutu")
        assert "Device quality" in listed.text and "Quality data incomplete" in listed.text


async def test_a_day_month_year_date_is_read_as_the_kader_writes_it(tmp_path: Path) -> None:
    rig = kit_rig(tmp_path)
    async with running(rig) as client:
        await kader_login(client)
        await save(client, {**GOOD, "strip_expires": "31/01/2027"})
    assert book_of(rig).entries("glucose").strip_expires == date(2027, 1, 31)


async def test_an_expired_strip_lot_is_kept_and_marks_the_meter_until_corrected(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    rig = kit_rig(tmp_path, clock)
    book = book_of(rig)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    async with running(rig) as client:
        await kader_login(client)
        await save(client, GOOD)
        await asyncio.to_thread(book.log_controls, "glucose", [control_test(clock, 1, 120.0, 1)])
        assert "1 alat perlu diperiksa" not in (await client.get("/kader")).text
        saved = await save(client, {**GOOD, "strip_lot": "S-OLD", "strip_expires": yesterday})
        assert saved.status_code == 200
        assert "Tanggal kedaluwarsa sudah lewat" in saved.text
        assert book.entries("glucose").strip_lot == "S-OLD"  # accepted as data
        assert "data-device-check" in saved.text and "Strip sudah kedaluwarsa" in saved.text
        listed = await client.get("/kader/mutu")
        assert "⚠ Alat perlu diperiksa" in listed.text
        # The save's message stays on its page only: not on the list, not on the next form.
        assert "Tanggal kedaluwarsa sudah lewat" not in listed.text
        again = await client.get("/kader/mutu/glucose")
        assert "Tanggal kedaluwarsa sudah lewat" not in again.text
        home = await client.get("/kader")
        assert "1 alat perlu diperiksa" in home.text
        # The verdict the gateway stamps on readings says the same.
        verdict = book.verdict("glucose", Kind.GLUCOSE, None)
        assert verdict.status.value == "out_of_policy" and "strips_expired" in verdict.reasons
        fixed = await save(client, GOOD)
        assert "Data mutu alat tersimpan." in fixed.text
        assert "Strip sudah kedaluwarsa" not in fixed.text
        assert "alat perlu diperiksa" not in (await client.get("/kader")).text
    assert "strips_expired" not in book.verdict("glucose", Kind.GLUCOSE, None).reasons


async def test_the_validation_date_is_the_operators_and_a_kader_save_keeps_it(
    tmp_path: Path,
) -> None:
    rig = kit_rig(tmp_path)
    book = book_of(rig)
    async with running(rig) as client:
        dashboard = await admin_login(client)
        assert "/admin/mutu/bp" in dashboard.text
        page = await client.get("/admin/mutu/bp")
        await post(client, "/admin/mutu/bp", {"calibration_due": "2027-03-01"}, page.text)
        await post(client, "/admin/mutu/glucose", {"calibration_due": "2027-04-01"}, page.text)
        await kader_login(client)
        bp = await client.get("/kader/mutu/bp")
        assert "Validasi berlaku sampai 01-03-2027" in bp.text
        assert "Tanggal ini diisi operator" in bp.text
        assert '<form method="post" action="/kader/mutu/bp"' not in bp.text
        assert 'data-status="ok"' in bp.text
        # A forged post changes nothing on a BP monitor ...
        forged = await post(client, "/kader/mutu/bp", {"calibration_due": "2030-01-01"}, bp.text)
        assert forged.status_code == 200
        assert book.entries("bp").calibration_due == date(2027, 3, 1)
        # ... and a glucometer save keeps the operator's date, whatever the form carried.
        await save(client, {**GOOD, "calibration_due": "2030-01-01"})
        assert book.entries("glucose").calibration_due == date(2027, 4, 1)
        assert book.entries("glucose").strip_lot == "S-77"


async def test_an_unknown_device_or_a_kit_without_a_book(tmp_path: Path) -> None:
    rig = kit_rig(tmp_path)
    async with running(rig) as client:
        page = await kader_login(client)
        assert (await client.get("/kader/mutu/oven")).headers["location"] == "/kader/mutu"
        posted = await client.post("/kader/mutu/oven", data={**GOOD, "csrf": csrf_of(page.text)})
        assert posted.headers["location"] == "/kader/mutu"
    bare = make_rig()  # no assurance book: the pages say so instead of failing
    async with running(bare) as client:
        home = await kader_login(client)
        assert 'href="/kader/mutu"' not in home.text
        listed = await client.get("/kader/mutu")
        assert listed.status_code == 200 and "tidak mencatat mutu alat" in listed.text
        assert (await client.get("/kader/mutu/glucose")).headers["location"] == "/kader/mutu"


async def test_a_failing_status_call_leaves_the_page_open(tmp_path: Path) -> None:
    rig = kit_rig(tmp_path)

    def broken() -> list[dict[str, Any]]:
        raise RuntimeError("status gone")

    rig.deps.device_status = broken
    async with running(rig) as client:
        await kader_login(client)
        listed = await client.get("/kader/mutu")
        assert listed.status_code == 200 and "Belum ada alat" in listed.text
        assert (await client.get("/kader")).status_code == 200


async def test_the_operator_page_shares_the_messages_and_keeps_what_was_typed(
    tmp_path: Path,
) -> None:
    rig = kit_rig(tmp_path)
    async with running(rig) as client:
        await admin_login(client)
        page = await client.get("/admin/mutu/glucose")
        assert "Rentang larutan kontrol belum diisi" in page.text
        bad = await post(client, "/admin/mutu/glucose", {**GOOD, "control_low": "150"}, page.text)
        assert bad.status_code == 400
        assert "batas bawah (150) lebih tinggi dari batas atas (140)" in bad.text
        assert 'value="S-77"' in bad.text and 'value="150"' in bad.text
        saved = await post(client, "/admin/mutu/glucose", GOOD, page.text)
        assert "Data mutu alat tersimpan." in saved.text
    assert book_of(rig).entries("glucose").control == ControlRange(
        100, 140, lot="CV-9", expires=date(2027, 5, 1)
    )
