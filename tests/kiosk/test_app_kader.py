"""Kader mode on a phone: PIN login (rate-limited), register/pick, measure, day list, sync."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from core.events import CuffPressure
from core.reading import Reading, Sex

from .helpers import (
    KADER_PIN,
    NIK_MAN,
    NIK_MINOR,
    NIK_WOMAN,
    bp_reading,
    client_for,
    csrf_of,
    follow,
    glucose_reading,
    make_rig,
    post,
    running,
    settle,
)


async def login(
    client: httpx.AsyncClient, pin: str = KADER_PIN, lang: str = "id"
) -> httpx.Response:
    return await post(client, "/kader/masuk", {"kader": "kader01", "pin": pin, "lang": lang})


async def register(
    client: httpx.AsyncClient, page: httpx.Response, nik: str, year: str, **extra: str
) -> httpx.Response:
    form = await follow(client, await client.get("/kader/daftar"))
    data = {"nik": nik, "birth_year": year, "label": "Ibu S.", "consent": "yes", **extra}
    return await post(client, "/kader/daftar", data, form.text)


async def test_login_wrong_pin_then_lockout() -> None:
    rig = make_rig(login_max_failures=3)
    async with running(rig) as client:
        assert (await client.get("/kader")).headers["location"] == "/kader/masuk"
        page = await login(client, pin="000000")
        assert "ID atau PIN salah" in page.text
        await login(client, pin="111111")
        page = await login(client, pin="222222")
        page = await login(client)  # right PIN, but this kader id is locked out now
        assert "Terlalu banyak percobaan" in page.text
        async with client_for(rig, "10.42.0.99") as other_phone:
            # Locked per account (issue 10 item 5): another phone cannot carry on guessing.
            assert "Terlalu banyak percobaan" in (await login(other_phone)).text
        rig.clock.advance(301)
        page = await login(client)
        assert page.url.path == "/kader"


async def test_register_measure_and_day_list() -> None:
    rig = make_rig()
    async with running(rig) as client:
        home = await login(client)
        # The kit's own backlog, and none of it this kader's (issue 10 item 4).
        assert "Seluruh kit: 2 bacaan belum diterima pusat" in home.text
        assert "Tersimpan di kit: 0" not in home.text  # no outbox states injected: unknown
        page = await register(client, home, NIK_MAN, "1985")
        assert page.url.path.startswith("/kader/warga/")
        entry_url = page.url.path
        assert "Ibu S." in page.text and "6471 •••• •••• 0003" in page.text
        page = await post(client, f"{entry_url}/ukur", {"test": "bp"}, page.text)
        assert page.url.path.startswith("/kader/ukur/")
        status_url = page.url.path + "/status"
        rig.events.publish(CuffPressure("bp", 99.0))
        await settle()
        assert (await client.get(status_url)).json() == {"state": "waiting", "mmhg": 99}
        rig.clock.advance(40)
        bound = await rig.deliver("bp", bp_reading(rig.clock.now, 182, 95))
        assert (await client.get(status_url)).json()["state"] == "done"
        page = await follow(client, await client.get(page.url.path))
        assert page.url.path == entry_url
        assert "182/95 mmHg" in page.text and "Hipertensi derajat 3" in page.text
        assert 'class="urgent"' in page.text
        page = await post(client, f"{entry_url}/ukur", {"test": "glucose_random"}, page.text)
        rig.clock.advance(40)
        glucose = await rig.deliver("glucose", glucose_reading(rig.clock.now, 150, seq=12))
        rig.sync["pending"] = 4
        home = await follow(client, await client.get("/kader"))
    assert bound.subject is not None and bound.subject.performer == "kader:kader01"
    # What central's cascade counts by travels with a kader's reading too (NIK_MAN: a man
    # registered in 647103, born 17-08-1985, 41 on the rig's day).
    for reading in (bound, glucose):
        assert reading.subject is not None
        cascade = (reading.subject.region, reading.subject.sex, reading.subject.age_band)
        assert cascade == ("647103", Sex.MALE, "40-49")
    assert glucose.values.meal == "casual"  # type: ignore[union-attr]
    assert "Seluruh kit: 4 bacaan belum diterima pusat" in home.text
    assert "⚠ Tekanan darah: 182/95 mmHg, 72 /menit — Hipertensi derajat 3" in home.text
    assert "Gula darah sewaktu: 150 mg/dL — Perlu perhatian" in home.text


async def test_same_resident_twice_is_one_entry_and_consent_is_required() -> None:
    rig = make_rig()
    async with running(rig) as client:
        home = await login(client)
        first = await register(client, home, NIK_WOMAN, "2000")
        again = await register(client, home, "3171 0443 0200 0121", "2000")
        assert first.url.path == again.url.path
        form = await follow(client, await client.get("/kader/daftar"))
        page = await post(
            client, "/kader/daftar", {"nik": NIK_MAN, "birth_year": "1985"}, form.text
        )
        assert "wajib dicentang" in page.text
        page = await register(client, home, NIK_MINOR, "2010")
        assert "orang tua/wali perlu menyetujui" in page.text
        page = await register(client, home, NIK_MINOR, "2010", guardian="yes")
        assert page.url.path.startswith("/kader/warga/")
        assert "2026.1-wali" in page.text
        page = await register(client, home, "6471031708850000", "1985")
        assert "tidak boleh 0000" in page.text
        home = await follow(client, await client.get("/kader"))
        assert home.text.count("/kader/warga/") == 2


async def test_two_kaders_cannot_share_a_device_at_once() -> None:
    rig = make_rig()
    async with running(rig) as one, client_for(rig, "10.42.0.30") as two:
        home1, home2 = await login(one), await login(two)
        page1 = await register(one, home1, NIK_MAN, "1985")
        page2 = await register(two, home2, NIK_WOMAN, "2000")
        await post(one, f"{page1.url.path}/ukur", {"test": "bp"}, page1.text)
        page2 = await post(two, f"{page2.url.path}/ukur", {"test": "bp"}, page2.text)
        assert "Alat sedang dipakai orang lain" in page2.text
        rig.clock.advance(20)
        bound = await rig.deliver("bp", bp_reading(rig.clock.now, 128, 82))
        text1 = (await follow(one, await one.get(page1.url.path))).text
        text2 = (await follow(two, await two.get(page2.url.path))).text
    assert "128/82" in text1 and "128/82" not in text2
    assert bound.subject is not None and bound.subject.session_id
    assert bound.subject.session_id in page1.url.path


async def test_cancel_frees_the_device_and_logout_ends_the_session() -> None:
    rig = make_rig()
    async with running(rig) as client:
        home = await login(client)
        page = await register(client, home, NIK_MAN, "1985")
        measuring = await post(
            client, f"{page.url.path}/ukur", {"test": "glucose_fasting"}, page.text
        )
        assert rig.binder.holder("glucose") is not None
        entry_id = page.url.path.rsplit("/", 1)[1]
        page = await post(client, f"/kader/ukur/{entry_id}/batal", {}, measuring.text)
        assert rig.binder.holder("glucose") is None
        late: Reading = await rig.deliver("glucose", glucose_reading(rig.clock.now, 99))
        assert not late.bound
        page = await post(client, "/kader/keluar", {}, page.text)
        assert "Anda sudah keluar" in page.text
        assert (await client.get("/kader")).headers["location"] == "/kader/masuk"


async def test_roster_db_holds_no_nik_and_keeps_only_today(tmp_path: Path) -> None:
    db = tmp_path / "roster.sqlite"
    rig = make_rig(roster_db_path=str(db))
    async with running(rig) as client:
        home = await login(client)
        page = await register(client, home, NIK_MAN, "1985")
        await post(client, f"{page.url.path}/ukur", {"test": "bp"}, page.text)
        await rig.deliver("bp", bp_reading(rig.clock.now, 120, 80))
        dump = "\n".join(sqlite3.connect(db).iterdump())
        assert "Ibu S." in dump and "6471 •••• •••• 0003" in dump
        assert "'647103','male','40-49'" in dump  # the cascade fields, and no birth date
        for needle in (NIK_MAN, "170885", "1708850003"):
            assert needle not in dump
        rig.clock.advance(24 * 3600)
        assert (await client.get("/kader")).headers["location"] == "/kader/masuk"  # idle
        home = await login(client)
        assert "Belum ada warga hari ini" in home.text
    assert "Ibu S." not in "\n".join(sqlite3.connect(db).iterdump())


async def test_kader_pages_in_english_and_sync_errors_do_not_break_them() -> None:
    rig = make_rig()
    async with running(rig) as client:
        page = await follow(client, await client.get("/kader/masuk?lang=en"))
        assert "Kader sign-in" in page.text
        home = await login(client, lang="en")
        assert "Today&#39;s screening" in home.text and "Data sync" in home.text

        def broken() -> dict[str, object]:
            raise OSError("outbox locked")

        rig.deps.sync_state = broken
        home = await follow(client, await client.get("/kader"))
        assert home.status_code == 200 and "Sync status unavailable" in home.text
        page = await post(client, "/kader/bahasa", {"lang": "id"}, home.text)
        assert "Posbindu hari ini" in page.text
        assert csrf_of(page.text)


async def test_moving_to_the_next_resident_releases_the_device() -> None:
    rig = make_rig()
    async with running(rig) as client:
        home = await login(client)
        first = await register(client, home, NIK_MAN, "1985")
        await post(client, f"{first.url.path}/ukur", {"test": "bp"}, first.text)
        second = await register(client, home, NIK_WOMAN, "2000")
        page = await post(client, f"{second.url.path}/ukur", {"test": "bp"}, second.text)
        assert page.url.path.startswith("/kader/ukur/")
        bound = await rig.deliver("bp", bp_reading(rig.clock.now, 121, 79))
    assert bound.subject is not None and bound.subject.session_id
    assert bound.subject.session_id in second.url.path
