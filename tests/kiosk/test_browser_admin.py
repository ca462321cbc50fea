"""The operator page in real Chromium at the kiosk's 800x480 and at 1280x800: the status in
words, and pairing a meter from the page over the simulated Bluetooth backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from drivers.ble.link import ConnectPolicy
from gateway.kiosk_host import BlePairing
from simulators.ble.backend import Air
from simulators.ble.devices import AccuChekMeter, BpMonitor, DeviceClock

from .helpers import ADMIN_PASSWORD, bp_reading
from .test_browser import KIOSK_VIEW, browser, check_page, serve

__all__ = ["browser"]  # the module-scoped Chromium fixture

pytestmark = pytest.mark.browser

WIDE_VIEW: ViewportSize = {"width": 1280, "height": 800}
VIEWS = {"800x480": KIOSK_VIEW, "1280x800": WIDE_VIEW}
FAST = ConnectPolicy(scan_timeout_s=1.0, attempts=1, backoff_s=0.0, attempt_timeout_s=5.0)


def sign_in(page: Page, url: str) -> None:
    page.goto(url + "/admin")
    page.get_by_label("Sandi operator").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url("**/admin")


def fits_width(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize("view", list(VIEWS))
def test_operator_status_reads_in_words(browser: Browser, view: str) -> None:
    with serve() as server:
        rig = server.rig
        now = rig.clock.now
        rig.deps.broker_state = lambda: {
            "connected": True,
            "connected_since": (now - timedelta(minutes=3)).timestamp(),
            "last_publish_at": now.timestamp(),
            "last_error": None,
            "alarms": [],
        }
        rig.sync.update(oldest_pending_age_s=75.0, published=0, refused=0)
        for n in range(25):
            server.deliver("bp", bp_reading(now - timedelta(minutes=n), 120 + n, 80))
        context = browser.new_context(viewport=VIEWS[view])
        page = context.new_page()
        sign_in(page, server.url)
        body = page.inner_text("body")
        assert "Tersambung" in body and "Menunggu dikirim" in body and "1 mnt" in body
        assert "Siaga" in body and "WITA" in body
        assert "oldest_pending_age_s" not in body and "None" not in body
        assert "Bacaan tanpa sesi (disimpan, tidak ditautkan): 25" in body
        assert fits_width(page)
        check_page(page, f"operator-status-{view}")
        page.get_by_text("Lihat daftar").click()
        assert page.locator("li.unbound").count() == 10
        page.get_by_role("link", name="Lebih lama ›").click()
        page.get_by_text("Halaman 2 dari 3").wait_for()
        assert page.locator("li.unbound").count() == 10
        check_page(page, f"operator-unbound-{view}")
        context.close()


@pytest.mark.parametrize("view", list(VIEWS))
def test_pair_a_meter_from_the_page(browser: Browser, view: str) -> None:
    clock = DeviceClock(lambda: datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    air = Air(advertise_interval_s=0.01)
    meter = air.add(AccuChekMeter(clock=clock))
    air.add(BpMonitor(clock=clock)).rssi = -75
    assigned: list[tuple[str, str]] = []

    def assign(address: str, kind: str, _name: str | None) -> str:
        assigned.append((address, kind))
        return "glucose-607771640001"

    with serve() as server:
        try:
            server.rig.deps.pairing = BlePairing(
                assign,
                scan_s=1.0,
                scanner_backend=air.scanner_backend(),
                client_backend=air.client_backend(),
                policy=FAST,
            )
            context = browser.new_context(viewport=VIEWS[view])
            page = context.new_page()
            sign_in(page, server.url)
            page.get_by_role("link", name="Pasangkan alat baru").click()
            page.wait_for_url("**/admin/pasang")
            check_page(page, f"operator-pair-1-start-{view}")
            page.get_by_role("button", name="Cari alat (1 detik)").click()
            page.get_by_text("Alat yang terlihat").wait_for()
            assert fits_width(page)
            check_page(page, f"operator-pair-2-found-{view}")
            page.get_by_label("meter+06412345").check()
            page.get_by_label("PIN yang tampil di alat").fill("123456")
            pair = page.get_by_role("button", name="Pasangkan", exact=True)
            # The primary action is on screen without scrolling, at 800x480 too.
            box = pair.bounding_box()
            assert box is not None and box["y"] + box["height"] <= VIEWS[view]["height"]
            pair.click()
            page.get_by_text("Terpasang: meter+06412345").wait_for()
            assert meter.bonded
            assert page.get_by_label("Gula darah").is_checked()  # its advertised profile
            check_page(page, f"operator-pair-3-paired-{view}")
            page.get_by_role("button", name="Pakai di kios ini").click()
            page.get_by_text("meter+06412345 sekarang dipakai kios untuk Gula darah.").wait_for()
            check_page(page, f"operator-pair-4-assigned-{view}")
            assert assigned == [(meter.address, "glucose")]
            assert server.rig.app.state.kiosk.settings.glucose_device == "glucose-607771640001"
            context.close()
        finally:
            asyncio.run_coroutine_threadsafe(air.aclose(), server.loop).result(5)


def test_missing_bluetooth_is_shown_on_the_page(browser: Browser) -> None:
    with serve() as server:
        # The real default backend: no system D-Bus on this machine.
        server.rig.deps.pairing = BlePairing(lambda *_: "unused", scan_s=1.0)
        context = browser.new_context(viewport=KIOSK_VIEW)
        page = context.new_page()
        sign_in(page, server.url)
        page.goto(server.url + "/admin/pasang")
        page.get_by_role("button", name="Cari alat (1 detik)").click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "Bluetooth tidak tersedia" in alert.inner_text()
        assert "systemctl start dbus" in alert.inner_text()
        assert alert.bounding_box() is not None
        box = alert.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 480  # seen without scrolling
        check_page(page, "operator-pair-no-bluetooth")
        context.close()
