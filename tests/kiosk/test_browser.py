"""Real Chromium (Debian) through Playwright: the screens as residents and kaders see them.

One uvicorn server per test on a free loopback port, driven from the sync Playwright API.
Screenshots go to tests/screenshots/ (gitignored) for review.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Locator, Page, ViewportSize, sync_playwright

from core.events import CuffPressure
from core.reading import Reading
from tests.support.clock import FakeClock

from .helpers import (
    KADER_PIN,
    NIK_MAN,
    NIK_WOMAN,
    LiveClock,
    Rig,
    bp_reading,
    glucose_reading,
    make_rig,
)

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/lib/chromium/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SHOTS = Path(__file__).resolve().parents[1] / "screenshots"
KIOSK_VIEW: ViewportSize = {"width": 800, "height": 480}
PHONE_VIEW: ViewportSize = {"width": 360, "height": 740}

A11Y_JS = (Path(__file__).with_name("a11y.js")).read_text(encoding="utf-8")


@dataclass
class Server:
    rig: Rig
    url: str
    loop: asyncio.AbstractEventLoop

    def deliver(self, device: str, reading: Reading) -> Reading:
        """Bind + announce on the server's own loop, as the gateway would."""
        future = asyncio.run_coroutine_threadsafe(self.rig.deliver(device, reading), self.loop)
        return future.result(5)

    def publish_pressure(self, device: str, mmhg: float) -> None:
        self.loop.call_soon_threadsafe(self.rig.events.publish, CuffPressure(device, mmhg))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(clock: FakeClock | None = None, **overrides: Any) -> Iterator[Server]:
    port = _free_port()
    overrides.setdefault("portal_host", f"127.0.0.1:{port}")
    overrides.setdefault("poll_interval_ms", 250)
    rig = make_rig(clock, **overrides)
    config = uvicorn.Config(
        rig.app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on"
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(server.serve(),), name="kiosk-uvicorn"
    )
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"
        yield Server(rig, f"http://127.0.0.1:{port}", loop)
    finally:
        server.should_exit = True
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        # launch() gives every run a fresh temporary profile (user-data dir).
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def expect_visible(page: Page, target: Locator) -> None:
    """`target` is on screen as the page opens: inside the viewport, nothing scrolled."""
    view = page.viewport_size
    assert view is not None
    assert page.evaluate("window.scrollY") == 0, page.url
    box = target.bounding_box()
    assert box is not None, f"{target} not rendered on {page.url}"
    assert box["y"] >= 0 and box["y"] + box["height"] <= view["height"], (page.url, box, view)
    assert box["x"] >= 0 and box["x"] + box["width"] <= view["width"], (page.url, box, view)


def check_page(page: Page, shot: str | None = None) -> None:
    assert page.evaluate(A11Y_JS) == [], page.url
    if shot:
        page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)


@dataclass(frozen=True)
class Flow:
    nik: str
    year: str
    choose: str
    fasting: str | None
    device: str
    make: Callable[[datetime], Reading]
    expect: tuple[str, ...]
    finish: str


FLOWS = {
    ("id", "bp"): Flow(
        NIK_MAN,
        "1985",
        "Tekanan darah",
        None,
        "bp",
        lambda at: bp_reading(at, 187, 112, 96),
        ("187/112 mmHg", "96 /menit", "Hipertensi derajat 3", "SEGERA ke fasilitas kesehatan"),
        "Selesai",
    ),
    ("en", "bp"): Flow(
        NIK_WOMAN,
        "2000",
        "Blood pressure",
        None,
        "bp",
        lambda at: bp_reading(at, 146, 84, 70),
        ("146/84 mmHg", "Hypertension grade 1 — isolated systolic", "Rest seated for 5 minutes"),
        "Finish",
    ),
    ("id", "glucose"): Flow(
        NIK_MAN,
        "1985",
        "Gula darah",
        "Tidak puasa",
        "glucose",
        lambda at: glucose_reading(at, 185, seq=30),
        ("Gula darah sewaktu", "185 mg/dL", "Perlu perhatian", "skrining, bukan diagnosis"),
        "Selesai",
    ),
    ("en", "glucose"): Flow(
        NIK_WOMAN,
        "2000",
        "Blood sugar",
        "Yes, I have fasted",
        "glucose",
        lambda at: glucose_reading(at, 112, seq=31),
        ("Fasting blood sugar", "112 mg/dL", "Possible diabetes", "screening, not a diagnosis"),
        "Finish",
    ),
}


@pytest.mark.parametrize(("lang", "test"), list(FLOWS))
def test_resident_flow(browser: Browser, lang: str, test: str) -> None:
    flow = FLOWS[(lang, test)]
    shots = f"kiosk-{test}-{lang}"
    words = (
        {"next": "Lanjut", "ready": "Siap"} if lang == "id" else {"next": "Next", "ready": "Ready"}
    )
    with serve() as server:
        context = browser.new_context(viewport=KIOSK_VIEW)
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(server.url + "/")
        assert requests == [server.url + "/"]  # no CSS, font, script or icon fetched
        check_page(page, f"{shots}-1-welcome")
        history = page.evaluate("history.length")
        page.get_by_role("button", name="Bahasa Indonesia" if lang == "id" else "English").click()
        page.wait_for_url("**/persetujuan")
        check_page(page, f"{shots}-2-consent")
        adult = "Saya berusia 18 tahun ke atas" if lang == "id" else "I am 18 or older"
        page.get_by_role("button", name=adult).click()
        page.wait_for_url("**/identitas")
        page.get_by_label("NIK").fill(flow.nik)
        page.get_by_label("Tahun lahir" if lang == "id" else "Year of birth").fill(flow.year)
        check_page(page, f"{shots}-3-identify")
        page.get_by_role("button", name=words["next"]).click()
        page.wait_for_url("**/pilih")
        masked = f"{flow.nik[:4]} •••• •••• {flow.nik[12:]}"
        assert masked in page.inner_text("main") and flow.nik not in page.content()
        page.get_by_label(flow.choose).check()
        if flow.fasting and lang == "en":
            page.get_by_role("button", name=words["next"]).click()
            page.get_by_text("Please answer whether you have fasted").wait_for()
            page.get_by_label(flow.choose).check()
        if flow.fasting:
            page.get_by_label(flow.fasting).check()
        check_page(page, f"{shots}-4-choose")
        page.get_by_role("button", name=words["next"]).click()
        page.wait_for_url("**/petunjuk")
        check_page(page, f"{shots}-5-instructions")
        page.get_by_role("button", name=words["ready"]).click()
        page.wait_for_url("**/ukur")
        if flow.device == "bp":
            server.publish_pressure("bp", 143.2)
            page.get_by_text("143 mmHg").wait_for(timeout=5000)
        check_page(page, f"{shots}-6-measuring")
        server.rig.clock.advance(40)
        server.deliver(flow.device, flow.make(server.rig.clock.now))
        page.wait_for_url("**/hasil", timeout=5000)
        body = page.inner_text("main")
        for expected in (*flow.expect, "Puskesmas Karang Jati", "27-11-2026 10:00 WITA"):
            assert expected in body
        assert page.locator("figure svg").count() == 1
        check_page(page, f"{shots}-7-result")
        # Every step replaced the one history entry: there is nothing to go back to.
        assert page.evaluate("history.length") == history
        page.get_by_role("button", name=flow.finish).click()
        page.wait_for_url("**/?m=ended")
        check_page(page, f"{shots}-8-finished")
        page.go_back()
        page.wait_for_load_state()
        for leaked in (flow.expect[0], masked):
            assert leaked not in page.content()
        context.close()


def reach_instructions(page: Page, server: Server, nik: str, year: str) -> None:
    page.goto(server.url + "/")
    page.get_by_role("button", name="Bahasa Indonesia").click()
    page.get_by_role("button", name="Saya berusia 18 tahun ke atas").click()
    page.get_by_label("NIK").fill(nik)
    page.get_by_label("Tahun lahir").fill(year)
    page.get_by_role("button", name="Lanjut").click()
    page.get_by_label("Tekanan darah").check()
    page.get_by_role("button", name="Lanjut").click()
    page.wait_for_url("**/petunjuk")


def kader_shot(page: Page, name: str) -> None:
    check_page(page, f"kader-360-{name}")


def test_kader_flow_on_a_360px_phone(browser: Browser) -> None:
    with serve() as server:
        context = browser.new_context(viewport=PHONE_VIEW, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.goto(server.url + "/kader/masuk")
        kader_shot(page, "1-login")
        page.get_by_label("ID kader").fill("kader01")
        page.get_by_label("PIN").fill(KADER_PIN)
        page.get_by_role("button", name="Masuk").click()
        page.wait_for_url("**/kader")
        assert "Seluruh kit: 2 bacaan belum diterima pusat" in page.inner_text("main")
        kader_shot(page, "2-home-empty")
        page.get_by_role("link", name="Daftarkan warga").click()
        page.wait_for_url("**/kader/daftar")
        page.get_by_label("NIK").fill(NIK_WOMAN)
        page.get_by_label("Tahun lahir").fill("2000")
        page.get_by_label("Nama panggilan").fill("Ibu R.")
        page.get_by_label("Warga sudah membaca").check()
        kader_shot(page, "3-register")
        page.get_by_role("button", name="Lanjut").click()
        page.wait_for_url("**/kader/warga/*")
        kader_shot(page, "4-resident")
        page.get_by_role("button", name="Tekanan darah").click()
        page.wait_for_url("**/kader/ukur/*")
        server.publish_pressure("bp", 87)
        page.get_by_text("87 mmHg").wait_for(timeout=5000)
        kader_shot(page, "5-measuring")
        server.rig.clock.advance(40)
        server.deliver("bp", bp_reading(server.rig.clock.now, 134, 86, 70))
        page.wait_for_url("**/kader/warga/*", timeout=5000)
        assert "134/86 mmHg" in page.inner_text("main") and "Normal tinggi" in page.inner_text(
            "main"
        )
        kader_shot(page, "6-result")
        page.get_by_role("link", name="Daftar hari ini").click()
        page.wait_for_url("**/kader")
        body = page.inner_text("main")
        assert "Ibu R." in body and "3171 •••• •••• 0121" in body and "134/86" in body
        kader_shot(page, "7-day-list")
        context.close()


def test_isolation_busy_device_timeout_and_idle_wipe(browser: Browser) -> None:
    with serve(LiveClock(), idle_timeout_s=5) as server:
        kiosk_a = browser.new_context(viewport=KIOSK_VIEW)
        kiosk_b = browser.new_context(viewport=KIOSK_VIEW)
        a, b = kiosk_a.new_page(), kiosk_b.new_page()
        reach_instructions(a, server, NIK_MAN, "1985")
        a.get_by_role("button", name="Siap").click()
        a.wait_for_url("**/ukur")
        reach_instructions(b, server, NIK_WOMAN, "2000")
        b.get_by_role("button", name="Siap").click()
        b.get_by_text("Alat sedang dipakai orang lain").wait_for()
        check_page(b, "isolation-b-busy")
        server.deliver("bp", bp_reading(server.rig.clock.now, 141, 92))
        a.wait_for_url("**/hasil", timeout=5000)
        # The operator shortens the device wait (as from the settings page) for b's turn.
        kiosk = server.rig.app.state.kiosk
        kiosk.settings = dataclasses.replace(kiosk.settings, measurement_timeout_s=2)
        assert "141/92" in a.inner_text("main")
        assert "141/92" not in b.content()
        b.get_by_role("button", name="Siap").click()
        b.wait_for_url("**/ukur")
        b.get_by_text("Belum ada hasil — coba lagi").wait_for(timeout=5000)
        check_page(b, "isolation-b-timeout")
        assert "141/92" not in b.content()
        # a walks away from the result: the screen wipes itself.
        a.wait_for_url("**/?m=idle", timeout=10000)
        check_page(a, "isolation-a-idle-wiped")
        for page in (a,):
            assert "141/92" not in page.content() and "•••• 0003" not in page.content()
            page.go_back()
            page.wait_for_load_state()
            assert "141/92" not in page.content() and "•••• 0003" not in page.content()
        kiosk_a.close()
        kiosk_b.close()


def test_captive_portal_and_operator_page(browser: Browser) -> None:
    with serve() as server:
        context = browser.new_context(viewport=PHONE_VIEW, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.goto(server.url + "/generate_204")
        assert page.url == server.url + "/portal"
        check_page(page, "portal-1-welcome")
        assert context.request.get(server.url + "/generate_204", max_redirects=0).status == 302
        page.get_by_role("button", name="Saya setuju").click()
        page.get_by_text("Terhubung").wait_for()
        check_page(page, "portal-2-accepted")
        assert context.request.get(server.url + "/generate_204", max_redirects=0).status == 204
        apple = context.request.get(server.url + "/hotspot-detect.html", max_redirects=0)
        assert apple.status == 200 and "Success" in apple.text()
        ncsi = context.request.get(server.url + "/ncsi.txt", max_redirects=0)
        assert ncsi.text() == "Microsoft NCSI"
        context.close()
        operator = browser.new_context(viewport=KIOSK_VIEW)
        page = operator.new_page()
        page.goto(server.url + "/admin")
        page.get_by_label("Sandi operator").fill("operator-sandi-123")
        page.get_by_role("button", name="Masuk").click()
        page.wait_for_url("**/admin")
        page.get_by_role("button", name="Pasangkan alat baru").click()
        page.get_by_text("Pemasangan: scanning 30 s").wait_for()
        check_page(page, "operator-dashboard")
        operator.close()


# --- issue 10 item 10: a measurement that never completes; "Batal" -----------------------------


def test_measuring_that_never_completes_asks_to_try_again_and_is_not_wiped(
    browser: Browser,
) -> None:
    # Idle wipe 3 s, device wait 5 s: both pass while the resident sits with the cuff on.
    with serve(LiveClock(), idle_timeout_s=3, measurement_timeout_s=5) as server:
        context = browser.new_context(viewport=KIOSK_VIEW)
        page = context.new_page()
        reach_instructions(page, server, NIK_MAN, "1985")
        page.get_by_role("button", name="Siap").click()
        page.wait_for_url("**/ukur")
        for name in ("Batal", "Selesai"):
            expect_visible(page, page.get_by_role("button", name=name))
        page.wait_for_timeout(3600)  # longer than the idle wipe: still measuring
        assert page.url.endswith("/ukur") and "Sedang mengukur" in page.inner_text("main")
        page.get_by_text("Belum ada hasil — coba lagi").wait_for(timeout=5000)
        check_page(page, "measure-timeout")
        for name in ("Coba lagi", "Batal", "Selesai"):
            expect_visible(page, page.get_by_role("button", name=name))
        page.wait_for_timeout(3600)  # the idle time again: the resident is busy with the device
        assert page.url.endswith("/ukur"), page.url
        assert "Belum ada hasil — coba lagi" in page.inner_text("main")
        page.get_by_role("button", name="Coba lagi").click()
        page.get_by_text("Sedang mengukur").wait_for(timeout=5000)
        server.deliver("bp", bp_reading(server.rig.clock.now, 128, 84))
        page.wait_for_url("**/hasil", timeout=5000)
        assert "128/84 mmHg" in page.inner_text("main")
        # Another test: "Batal" cancels only this measurement and returns to the choice.
        page.goto(server.url + "/pilih")
        page.get_by_label("Tekanan darah").check()
        page.get_by_role("button", name="Lanjut").click()
        page.wait_for_url("**/petunjuk")
        page.get_by_role("button", name="Siap").click()
        page.wait_for_url("**/ukur")
        assert server.rig.binder.holder("bp") is not None
        page.get_by_role("button", name="Batal").click()
        page.wait_for_url("**/pilih")
        assert server.rig.binder.holder("bp") is None
        assert "•••• 0003" in page.inner_text("main")  # the same visit goes on
        context.close()


# --- issue 10 item 8: every resident page's actions fit 800x480; 1280x800 uses the screen -------

WIDE_VIEW: ViewportSize = {"width": 1280, "height": 800}


def walk_resident_pages(page: Page, server: Server, shot: str) -> dict[str, float]:
    """Visit every resident page (BP + glucose, both results shown) and check that its
    primary actions are visible without scrolling. Returns the root font size per page."""
    fonts: dict[str, float] = {}

    def seen(name: str, *targets: Locator) -> None:
        for target in targets:
            expect_visible(page, target)
        check_page(page, f"{shot}-{name}")
        fonts[name] = page.evaluate(
            "parseFloat(getComputedStyle(document.documentElement).fontSize)"
        )
        main = page.locator("main").bounding_box()
        assert main is not None
        fonts[f"{name}-main-width"] = main["width"]

    button = lambda name: page.get_by_role("button", name=name, exact=True)  # noqa: E731
    page.goto(server.url + "/")
    seen("welcome", button("Bahasa Indonesia"), button("English"))
    button("Bahasa Indonesia").click()
    page.wait_for_url("**/persetujuan")
    seen(
        "consent",
        button("Saya berusia 18 tahun ke atas, sudah membaca, dan setuju."),
        page.get_by_role("link", name="Saya berusia 15–17 tahun (dengan orang tua/wali)"),
        button("Saya tidak setuju"),
    )
    page.get_by_role("link", name="Saya berusia 15–17 tahun (dengan orang tua/wali)").click()
    page.wait_for_url("**/persetujuan/wali")
    guardian_box = page.get_by_role("checkbox")
    seen("guardian", guardian_box, button("Setuju sebagai orang tua/wali"), button("Selesai"))
    page.goto(server.url + "/persetujuan")
    button("Saya berusia 18 tahun ke atas, sudah membaca, dan setuju.").click()
    page.wait_for_url("**/identitas")
    seen("identify", page.get_by_label("NIK"), page.get_by_label("Tahun lahir"), button("Lanjut"))
    page.get_by_label("NIK").fill(NIK_MAN)
    page.get_by_label("Tahun lahir").fill("1985")
    button("Lanjut").click()
    page.wait_for_url("**/pilih")
    seen(
        "choose",
        page.get_by_label("Tekanan darah"),
        page.get_by_label("Gula darah"),
        page.get_by_label("Ya, saya puasa"),
        page.get_by_label("Tidak puasa"),
        button("Lanjut"),
        button("Selesai"),
    )
    page.get_by_label("Tekanan darah").check()
    page.get_by_label("Gula darah").check()
    page.get_by_label("Tidak puasa").check()
    button("Lanjut").click()
    page.wait_for_url("**/petunjuk")
    seen("instructions", button("Siap, mulai ukur"), button("Selesai"))
    button("Siap, mulai ukur").click()
    page.wait_for_url("**/ukur")
    seen("measuring", button("Batal"), button("Selesai"))
    server.rig.clock.advance(40)
    server.deliver("bp", bp_reading(server.rig.clock.now, 187, 112, 96))
    page.wait_for_url("**/hasil", timeout=5000)
    seen("result-bp", page.get_by_role("link", name="Lanjut: gula darah"), button("Selesai"))
    page.get_by_role("link", name="Lanjut: gula darah").click()
    page.wait_for_url("**/petunjuk")
    button("Siap, mulai ukur").click()
    page.wait_for_url("**/ukur")
    server.rig.clock.advance(40)
    server.deliver("glucose", glucose_reading(server.rig.clock.now, 320, seq=40))
    page.wait_for_url("**/hasil", timeout=5000)
    body = page.inner_text("main")
    assert "187/112 mmHg" in body and "320 mg/dL" in body
    seen("result-both", button("Selesai"))
    return fonts


def test_every_resident_page_fits_800x480_and_scales_at_1280x800(browser: Browser) -> None:
    sizes: dict[str, dict[str, float]] = {}
    for label, view in (("800x480", KIOSK_VIEW), ("1280x800", WIDE_VIEW)):
        with serve() as server:
            context = browser.new_context(viewport=view)
            sizes[label] = walk_resident_pages(context.new_page(), server, f"layout-{label}")
            context.close()
    small, wide = sizes["800x480"], sizes["1280x800"]
    for name in ("welcome", "consent", "choose", "measuring", "result-both"):
        # Text grows with the screen, and the column uses most of the width.
        assert wide[name] >= small[name] * 1.25, (name, small[name], wide[name])
        assert wide[f"{name}-main-width"] >= 0.8 * WIDE_VIEW["width"], (name, wide)
        assert small[name] >= 16, (name, small)
