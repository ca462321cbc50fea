"""The resident flow through the ASGI app (no browser): steps, binding, isolation, wipe."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta

import httpx
import pytest

from core.events import CuffPressure, ReadingStored
from core.reading import Kind, Reading, Sex, Subject
from kiosk.app import create_app, sweep_once
from kiosk.binding import SessionBinder
from kiosk.privacy import unseal
from kiosk.results import build_view, qr_text
from tests.support.clock import FakeClock

from .helpers import (
    NIK_MAN,
    NIK_MINOR,
    NIK_WOMAN,
    PROGRAMME_KEY,
    Rig,
    bp_reading,
    central_keys,
    client_for,
    csrf_of,
    follow,
    glucose_reading,
    make_rig,
    post,
    running,
    settle,
)


async def identified(
    client: httpx.AsyncClient, nik: str = NIK_MAN, year: str = "1985", lang: str = "id"
) -> httpx.Response:
    page = await post(client, "/mulai", {"lang": lang})
    page = await post(client, "/persetujuan", {"choice": "adult"}, page.text)
    return await post(client, "/identitas", {"nik": nik, "birth_year": year}, page.text)


async def measuring(client: httpx.AsyncClient, choose: dict[str, str], **kw: str) -> httpx.Response:
    page = await identified(client, **kw)
    assert page.url.path == "/pilih", page.text
    page = await post(client, "/pilih", choose, page.text)
    assert page.url.path == "/petunjuk"
    page = await post(client, "/ukur", {}, page.text)
    assert page.url.path == "/ukur", page.text
    return page


async def test_status_long_poll_answers_when_the_status_differs_from_the_page() -> None:
    rig = make_rig()
    async with running(rig) as client:
        await measuring(client, {"blood_pressure": "1"})
        held = asyncio.create_task(client.get("/ukur/status?seen=waiting:"))
        await settle()
        assert not held.done()  # the page already shows this status: the answer is held
        rig.events.publish(CuffPressure("bp", 120.4))
        assert (await asyncio.wait_for(held, 1)).json() == {"state": "waiting", "mmhg": 120}
        # A change between two requests is answered at once, not lost.
        rig.events.publish(CuffPressure("bp", 90.0))
        await settle()
        fresh = await asyncio.wait_for(client.get("/ukur/status?seen=waiting:120"), 1)
        assert fresh.json() == {"state": "waiting", "mmhg": 90}
        held = asyncio.create_task(client.get("/ukur/status?seen=waiting:90"))
        await settle()
        assert not held.done()
        await rig.deliver("bp", bp_reading(rig.clock.now, 128, 84, 70))
        assert (await asyncio.wait_for(held, 1)).json()["state"] == "done"
        # Once done, nothing is held back.
        done = await asyncio.wait_for(client.get("/ukur/status?seen=waiting:90"), 1)
        assert done.json()["state"] == "done"


async def test_bp_flow_shows_category_advice_referral_and_qr() -> None:
    rig = make_rig()
    async with running(rig) as client:
        page = await measuring(client, {"blood_pressure": "1"})
        assert rig.requested == ["blood_pressure"]
        assert (await client.get("/ukur/status")).json() == {"state": "waiting", "mmhg": None}
        rig.events.publish(CuffPressure("bp", 151.6))
        await settle()
        assert (await client.get("/ukur/status")).json() == {"state": "waiting", "mmhg": 152}
        rig.clock.advance(45)
        bound = await rig.deliver("bp", bp_reading(rig.clock.now, 165, 102, 88))
        assert (await client.get("/ukur/status")).json()["state"] == "done"
        page = await follow(client, await client.get("/ukur"))
        assert page.url.path == "/hasil"
    html = page.text
    assert "165/102 mmHg" in html and "88 /menit" in html
    assert "Hipertensi derajat 2" in html and "background:#b0191e" in html
    assert "Datanglah ke Puskesmas Karang Jati dalam minggu ini" in html
    assert "Istirahat duduk 5 menit" in html
    assert 'class="urgent"' not in html
    assert "<svg" in html and "skrining, bukan diagnosis" not in html
    assert "Diukur 27-11-2026 10:00 WITA" in html
    assert bound.bound and bound.subject is not None
    assert bound.subject.consent_version == "2026.1"
    assert bound.subject.consent_at == rig.clock.now - timedelta(seconds=45)
    assert bound.subject.performer == "self"
    assert unseal(bound.subject.sealed_nik or "", central_keys().private_key) == NIK_MAN
    # NIK_MAN: registered in 647103, day 17 (a man), born 1985: 41 on the rig's day.
    cascade = (bound.subject.region, bound.subject.sex, bound.subject.age_band)
    assert cascade == ("647103", Sex.MALE, "40-49")


async def test_glucose_flow_in_english_with_urgent_banner() -> None:
    rig = make_rig()
    async with running(rig) as client:
        await measuring(
            client, {"glucose": "1", "fasting": "no"}, nik=NIK_WOMAN, year="2000", lang="en"
        )
        rig.clock.advance(20)
        bound = await rig.deliver("glucose", glucose_reading(rig.clock.now, 320, seq=9))
        page = await follow(client, await client.get("/hasil"))
    html = page.text
    assert bound.values.meal == "casual"  # type: ignore[union-attr]
    assert "Random blood sugar" in html and "320 mg/dL" in html
    assert "Possible diabetes" in html
    assert 'class="urgent" role="alert">⚠ GO to the nearest health facility NOW' in html
    assert "screening, not a diagnosis" in html
    assert 'lang="en"' in html


async def test_bp_then_glucose_in_one_visit() -> None:
    rig = make_rig()
    async with running(rig) as client:
        await measuring(client, {"blood_pressure": "1", "glucose": "1", "fasting": "yes"})
        rig.clock.advance(30)
        await rig.deliver("bp", bp_reading(rig.clock.now, 118, 76))
        page = await follow(client, await client.get("/hasil"))
        assert "Lanjut: gula darah" in page.text and "Optimal" in page.text
        page = await follow(client, await client.get("/petunjuk"))
        assert "Sebelum cek gula darah" in page.text
        page = await post(client, "/ukur", {}, page.text)
        assert rig.requested == ["blood_pressure", "glucose"]
        rig.clock.advance(30)
        await rig.deliver("glucose", glucose_reading(rig.clock.now, 95, seq=3))
        page = await follow(client, await client.get("/hasil"))
    assert "Optimal" in page.text
    assert "Gula darah puasa" in page.text and "Perlu perhatian" in page.text
    assert "Lanjut:" not in page.text


async def test_two_residents_never_get_each_others_reading() -> None:
    rig = make_rig()
    async with running(rig) as a, client_for(rig, "10.42.0.21") as b:
        await measuring(a, {"blood_pressure": "1"})
        # b wants the same monitor while a waits: refused, not queued behind a's reading.
        page_b = await identified(b, NIK_WOMAN, "2000")
        page_b = await post(b, "/pilih", {"blood_pressure": "1"}, page_b.text)
        page_b = await post(b, "/ukur", {}, page_b.text)
        assert page_b.url.path == "/petunjuk"
        assert "Alat sedang dipakai orang lain" in page_b.text
        rig.clock.advance(30)
        bound = await rig.deliver("bp", bp_reading(rig.clock.now, 142, 91))
        assert (await a.get("/ukur/status")).json()["state"] == "done"
        assert (await b.get("/ukur/status")).json() == {"state": "none"}
        # b's result page has nothing; a's has the reading.
        assert (await b.get("/hasil")).headers["location"] == "/petunjuk"
        assert "142/91" in (await follow(a, await a.get("/hasil"))).text
        # a is done: now b can measure and gets only its own reading.
        await post(a, "/selesai", {})
        page_b = await post(b, "/ukur", {}, page_b.text)
        assert page_b.url.path == "/ukur"
        rig.clock.advance(30)
        bound_b = await rig.deliver("bp", bp_reading(rig.clock.now, 111, 71))
        html_b = (await follow(b, await b.get("/hasil"))).text
    assert "111/71" in html_b and "142/91" not in html_b
    assert bound.subject is not None and bound_b.subject is not None
    assert bound.subject.pseudonym != bound_b.subject.pseudonym
    assert bound.subject.session_id != bound_b.subject.session_id


async def test_a_reading_bound_elsewhere_is_not_shown_by_device_name() -> None:
    rig = make_rig()
    async with running(rig) as client:
        await measuring(client, {"blood_pressure": "1"})
        rig.clock.advance(10)
        foreign = bp_reading(rig.clock.now, 200, 130)
        other = SessionBinder(rig.clock)
        other.claim(
            "bp", Kind.BLOOD_PRESSURE, Subject("x", session_id="zz"), timeout=timedelta(minutes=1)
        )
        rig.events.publish(ReadingStored("bp", other.bind("bp", foreign)))
        await settle()
        assert (await client.get("/ukur/status")).json()["state"] == "waiting"


async def test_finish_wipes_everything_and_back_shows_nothing() -> None:
    rig = make_rig()
    async with running(rig) as client:
        await measuring(client, {"blood_pressure": "1"})
        rig.clock.advance(30)
        await rig.deliver("bp", bp_reading(rig.clock.now, 150, 95))
        page = await follow(client, await client.get("/hasil"))
        assert page.headers["cache-control"] == "no-store, max-age=0"
        done = await client.post("/selesai")
        assert done.status_code == 303 and done.headers["location"] == "/?m=ended"
        assert 'gk_visit=""' in done.headers["set-cookie"]
        for path in ("/hasil", "/ukur", "/pilih", "/petunjuk", "/identitas", "/persetujuan"):
            response = await client.get(path)
            assert (response.status_code, response.headers["location"]) == (303, "/"), path
        assert (await client.get("/ukur/status")).json() == {"state": "ended"}
        assert len(rig.app.state.kiosk.visits) == 0
        # Even the old cookie value is useless now.
        welcome = await client.get("/")
        assert "150/95" not in welcome.text


async def test_idle_timeout_wipes_the_visit_and_frees_the_device() -> None:
    rig = make_rig()
    async with running(rig) as client:
        await measuring(client, {"blood_pressure": "1"})
        rig.clock.advance(91)  # idle timeout 90 s: no polling while the browser is gone
        sweep_once(rig.app.state.kiosk)
        assert rig.binder.holder("bp") is None
        assert (await client.get("/ukur")).headers["location"] == "/"
        late = await rig.deliver("bp", bp_reading(rig.clock.now, 150, 95))
        assert late.bound is False
        idle = await client.get("/habis")
        assert idle.headers["location"] == "/?m=idle"
        assert "tidak ada aktivitas" in (await client.get("/?m=idle")).text


async def test_measurement_timeout_says_no_result_and_try_again() -> None:
    rig = make_rig(measurement_timeout_s=60, idle_timeout_s=600)
    async with running(rig) as client:
        page = await measuring(client, {"glucose": "1", "fasting": "no"})
        rig.clock.advance(61)
        assert (await client.get("/ukur/status")).json()["state"] == "timeout"
        page = await client.get("/ukur")
        assert "Belum ada hasil — coba lagi" in page.text
        late = await rig.deliver("glucose", glucose_reading(rig.clock.now, 100))
        assert not late.bound  # the claim ended with the timeout
        page = await post(client, "/ukur", {}, page.text)  # "Coba lagi"
        assert page.url.path == "/ukur" and "Menunggu hasil" in page.text
        rig.clock.advance(5)
        assert (await rig.deliver("glucose", glucose_reading(rig.clock.now, 100, seq=2))).bound


async def test_guardian_path_for_15_to_17() -> None:
    rig = make_rig()
    async with running(rig) as client:
        page = await identified(client, NIK_MINOR, "2010")
        assert page.url.path == "/persetujuan/wali"
        assert "di bawah 18 tahun" in page.text
        assert (await client.get("/pilih")).headers["location"] == "/identitas"
        page = await post(client, "/persetujuan", {"choice": "guardian"}, page.text)
        assert "perlu mencentang" in page.text
        page = await post(
            client, "/persetujuan", {"choice": "guardian", "guardian_confirm": "yes"}, page.text
        )
        assert page.url.path == "/pilih"
        page = await post(client, "/pilih", {"blood_pressure": "1"}, page.text)
        await post(client, "/ukur", {}, page.text)
        bound = await rig.deliver("bp", bp_reading(rig.clock.now, 110, 70))
    assert bound.subject is not None and bound.subject.consent_version == "2026.1-wali"


@pytest.mark.parametrize(
    ("nik", "year", "message"),
    [
        ("12345", "1985", "NIK harus 16 angka"),
        ("9971031708850003", "1985", "bukan kode provinsi"),
        ("6471033104850003", "1985", "Tanggal lahir di dalam NIK"),
        ("6471031708850000", "1985", "tidak boleh 0000"),
        ("6471031708850003", "1986", "Tahun lahir tidak cocok"),
        ("6471031708850003", "85", "Tahun lahir tidak cocok"),
        ("6471031205150007", "2015", "usia 15 tahun ke atas"),
    ],
)
async def test_nik_problems_are_explained(nik: str, year: str, message: str) -> None:
    rig = make_rig()
    async with running(rig) as client:
        page = await identified(client, nik, year)
        assert page.url.path == "/identitas"
        assert message in page.text
        assert nik not in page.text
        # The message stays while the page is reloaded, and goes once the visit moves on.
        assert message in (await client.get("/identitas")).text
        await client.get("/persetujuan")
        assert message not in (await client.get("/identitas")).text


async def test_steps_cannot_be_skipped_and_forms_need_the_token() -> None:
    rig = make_rig()
    async with running(rig) as client:
        assert (await client.get("/persetujuan")).headers["location"] == "/"
        page = await post(client, "/mulai", {"lang": "id"})
        assert (await client.get("/identitas")).headers["location"] == "/persetujuan"
        forged = await client.post("/persetujuan", data={"choice": "adult", "csrf": "x"})
        assert forged.headers["location"] == "/"
        page = await post(client, "/persetujuan", {"choice": "adult"}, page.text)
        assert (await client.get("/pilih")).headers["location"] == "/identitas"
        page = await post(client, "/identitas", {"nik": NIK_MAN, "birth_year": "1985"}, page.text)
        page = await post(client, "/pilih", {}, page.text)
        assert "paling sedikit satu" in page.text
        page = await post(client, "/pilih", {"glucose": "1"}, page.text)
        assert "apakah Anda puasa" in page.text
        assert "6471 •••• •••• 0003" in page.text


async def test_language_switch_keeps_the_step() -> None:
    rig = make_rig()
    async with running(rig) as client:
        page = await identified(client)
        page = await post(client, "/bahasa", {"lang": "en", "next": "/pilih"}, page.text)
        assert page.url.path == "/pilih" and "Choose your checks" in page.text
        page = await post(client, "/bahasa", {"lang": "id", "next": "http://evil/"}, page.text)
        assert page.url.path == "/persetujuan"


async def test_no_device_configured_and_device_never_sending() -> None:
    rig = make_rig(glucose_device=None)
    async with running(rig) as client:
        page = await identified(client)
        assert "Gula darah" not in page.text.split("<form")[1]
        page = await post(client, "/pilih", {"glucose": "1", "fasting": "no"}, page.text)
        page = await post(client, "/ukur", {}, page.text)
        assert "belum terpasang" in page.text


async def test_privacy_no_nik_in_pages_logs_payloads_or_db(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    rig = make_rig()
    pages: list[str] = []
    bound: list[Reading] = []
    async with running(rig) as client:
        page = await post(client, "/mulai", {"lang": "id"})
        pages.append(page.text)
        page = await post(client, "/persetujuan", {"choice": "adult"}, page.text)
        pages.append(page.text)
        for nik in ("6471031708850000", NIK_WOMAN):  # a refused one, then a good one
            page = await post(client, "/identitas", {"nik": nik, "birth_year": "2000"}, page.text)
            pages.append(page.text)
        page = await post(
            client, "/pilih", {"blood_pressure": "1", "glucose": "1", "fasting": "yes"}, page.text
        )
        pages.append(page.text)
        page = await post(client, "/ukur", {}, page.text)
        pages.append(page.text)
        bound.append(await rig.deliver("bp", bp_reading(rig.clock.now, 190, 100)))
        page = await follow(client, await client.get("/hasil"))
        pages.append(page.text)
        page = await follow(client, await client.get("/petunjuk"))
        page = await post(client, "/ukur", {}, page.text)
        bound.append(await rig.deliver("glucose", glucose_reading(rig.clock.now, 40, seq=4)))
        page = await follow(client, await client.get("/hasil"))
        pages.append(page.text)
        kiosk = rig.app.state.kiosk
        visit_id = bound[0].subject.session_id  # type: ignore[union-attr]
        views = [
            build_view(m, kiosk.thresholds, kiosk.settings, "id")
            for m in kiosk.board.results(visit_id or "")
        ]
        qr = qr_text(views, kiosk.settings, "id")
        pages.append((await client.post("/selesai")).text)
    haystack = "\n".join([*pages, caplog.text, qr, *(repr(b) for b in bound)])
    for needle in (NIK_WOMAN, "0302000121", "430200"):
        assert needle not in haystack
    assert "3171 •••• •••• 0121" in "\n".join(pages)
    assert "Tekanan darah: 190/100 mmHg" in qr and "Rendah (hipoglikemia)" in qr
    assert bound[0].subject is not None and bound[0].subject.pseudonym not in qr
    assert "Puskesmas Karang Jati" in qr and "Kios Karang Jati" in qr
    assert "SEGERA makan atau minum yang manis" in pages[-2]


async def test_server_errors_get_a_friendly_page_and_a_log_without_personal_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class ExplodingBinder(SessionBinder):
        def claim(self, *args: object, **kwargs: object) -> bool:
            raise RuntimeError(f"cannot claim for {NIK_MAN}")

    clock = FakeClock()
    deps = dataclasses.replace(make_rig(clock).deps, binder=ExplodingBinder(clock))
    rig = Rig(clock=clock, deps=deps, app=create_app(deps))
    caplog.set_level(logging.DEBUG)
    async with running(rig) as client:
        page = await measuring_until_choice(client)
        response = await client.post("/ukur", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 500
    assert (
        "Maaf, terjadi gangguan" in response.text and "Sorry, something went wrong" in response.text
    )
    assert response.headers["cache-control"] == "no-store, max-age=0"
    assert "RuntimeError" in caplog.text
    assert NIK_MAN not in caplog.text and NIK_MAN not in response.text


async def measuring_until_choice(client: httpx.AsyncClient) -> httpx.Response:
    page = await identified(client)
    return await post(client, "/pilih", {"blood_pressure": "1"}, page.text)


async def test_not_found_is_friendly_and_pages_are_small_and_self_contained() -> None:
    rig = make_rig()
    async with running(rig) as client:
        missing = await client.get("/does-not-exist")
        assert missing.status_code == 404 and "Halaman tidak ditemukan" in missing.text
        welcome = await client.get("/")
        page = await identified(client)
    for response in (welcome, page):
        assert len(response.content) < 300_000
        assert "http://" not in response.text and "https://" not in response.text
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"


def test_pseudonym_matches_programme_key() -> None:
    from kiosk.privacy import pseudonym

    assert pseudonym(NIK_MAN, PROGRAMME_KEY) == pseudonym(" 6471 0317 0885 0003 ", PROGRAMME_KEY)


async def test_settings_are_checked_when_the_app_is_built() -> None:
    for bad in (
        {"consent_version": "1999.9"},
        {"languages": ("id", "jv")},
        {"programme_key": b"short"},
        {"central_public_key": b"\x00" * 31},
    ):
        with pytest.raises(ValueError):
            make_rig(**bad)


async def test_shutdown_stops_the_app_tasks() -> None:
    rig = make_rig()
    async with running(rig):
        names = {task.get_name() for task in asyncio.all_tasks()}
        assert {"kiosk-events", "kiosk-sweeper"} <= names
    names = {task.get_name() for task in asyncio.all_tasks()}
    assert not names & {"kiosk-events", "kiosk-sweeper"}
    rig.events.publish(ReadingStored("bp", bp_reading(rig.clock.now, 120, 80)))  # nobody listens


# --- issue 10: a late reading asks again (item 3); "Batal" ends one measurement (item 10) ------


async def test_a_reading_that_may_be_the_previous_residents_asks_to_measure_again() -> None:
    rig = make_rig()
    async with running(rig) as client:
        claimed = rig.clock.now
        await measuring(client, {"blood_pressure": "1"})
        rig.clock.advance(3)
        # The previous resident's result, taken 30 s before "Siap", reaches the gateway now.
        late = dataclasses.replace(
            bp_reading(claimed - timedelta(seconds=30), 166, 101), received_at=rig.clock.now
        )
        assert not (await rig.deliver("bp", late)).bound
        status = (await client.get("/ukur/status")).json()
        assert status == {"state": "waiting", "mmhg": None, "again": True}
        page = await client.get("/ukur")
        assert "Silakan ukur sekali lagi" in page.text and "166/101" not in page.text
        # The long poll noticed the change: a page still showing the plain wait is answered.
        held = await asyncio.wait_for(client.get("/ukur/status?seen=waiting:"), 1)
        assert held.json()["again"] is True
        rig.clock.advance(40)
        own = await rig.deliver("bp", bp_reading(rig.clock.now, 124, 82))
        assert own.bound and own.subject is not None
        result = await follow(client, await client.get("/ukur"))
        assert result.url.path == "/hasil" and "124/82 mmHg" in result.text
        assert "166/101" not in result.text


async def test_cancel_ends_this_measurement_only_and_frees_the_device() -> None:
    rig = make_rig()
    async with running(rig) as client:
        page = await measuring(client, {"blood_pressure": "1"})
        assert rig.binder.holder("bp") is not None
        assert 'action="/ukur/batal"' in page.text and "Batal" in page.text
        page = await post(client, "/ukur/batal", {}, page.text)
        assert page.url.path == "/pilih"  # the visit goes on: choose again
        assert rig.binder.holder("bp") is None
        assert not (await rig.deliver("bp", bp_reading(rig.clock.now, 130, 85))).bound
        # Without the page's token nothing is cancelled.
        page = await post(client, "/pilih", {"blood_pressure": "1"}, page.text)
        page = await post(client, "/ukur", {}, page.text)
        holder = rig.binder.holder("bp")
        assert holder is not None
        refused = await client.post("/ukur/batal", data={"csrf": "x"})
        assert refused.headers["location"] == "/" and rig.binder.holder("bp") == holder


GUARDED_POSTS = ("/bahasa", "/persetujuan", "/identitas", "/pilih", "/ukur", "/ukur/batal")


@pytest.mark.parametrize("path", GUARDED_POSTS)
async def test_every_visit_post_without_visit_or_token_goes_back_to_the_start(path: str) -> None:
    # The one guard of the visit's POSTs: no visit, or a missing or wrong token, is a plain
    # 303 to "/" (not an error page) and changes nothing; the right token passes it.
    rig = make_rig()
    async with running(rig) as client:
        no_visit = await client.post(path, data={"csrf": "x"})
        assert (no_visit.status_code, no_visit.headers["location"]) == (303, "/")
        page = await post(client, "/mulai", {"lang": "id"})
        token = csrf_of(page.text)
        for data in ({}, {"csrf": "x"}, {"csrf": token[:-1]}):
            refused = await client.post(path, data={**data, "lang": "en", "choice": "adult"})
            assert (refused.status_code, refused.headers["location"]) == (303, "/"), data
            assert refused.content == b""
        assert (await client.get("/persetujuan")).status_code == 200  # the visit goes on
        assert 'lang="id"' in (await client.get("/persetujuan")).text
        passed = await client.post(path, data={"csrf": token, "lang": "id"})
        assert passed.status_code == 303 and passed.headers["location"] != "/"
