"""Issue 10 items 4 and 5 in Chromium: a reading's state on a 360 px phone, and the lockout
message with its wait on both login forms."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from .helpers import ADMIN_PASSWORD, KADER_PIN, NIK_WOMAN, bp_reading
from .test_browser import KIOSK_VIEW, PHONE_VIEW, browser, check_page, serve
from .test_kader_sync import OutboxStates

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with test_browser


def fits_width(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{page.url} is {width} px wide on a 360 px phone"


def test_reading_state_on_a_360px_phone(browser: Browser) -> None:
    with serve() as server:
        outbox = OutboxStates()
        server.rig.deps.reading_states = outbox
        context = browser.new_context(viewport=PHONE_VIEW, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.goto(server.url + "/kader/masuk")
        page.get_by_label("ID kader").fill("kader01")
        page.get_by_label("PIN").fill(KADER_PIN)
        page.get_by_role("button", name="Masuk").click()
        page.wait_for_url("**/kader")
        page.get_by_role("link", name="Daftarkan warga").click()
        page.get_by_label("NIK").fill(NIK_WOMAN)
        page.get_by_label("Tahun lahir").fill("2000")
        page.get_by_label("Warga sudah membaca").check()
        page.get_by_role("button", name="Lanjut").click()
        page.wait_for_url("**/kader/warga/*")
        page.get_by_role("button", name="Tekanan darah").click()
        page.wait_for_url("**/kader/ukur/*")
        server.rig.clock.advance(40)
        reading = server.deliver("bp", bp_reading(server.rig.clock.now, 134, 86, 70))
        page.wait_for_url("**/kader/warga/*", timeout=5000)
        for state, shown in (
            ("pending", "Tersimpan di kit"),
            ("published", "Terkirim, menunggu pusat"),
            ("confirmed", "Diterima pusat"),
        ):
            outbox.states[reading.id] = state
            page.reload()
            row = page.locator("li", has_text="134/86 mmHg")
            assert row.inner_text().endswith(shown), row.inner_text()
            fits_width(page)
            check_page(page, f"kader-360-state-{state}")
        page.get_by_role("link", name="Daftar hari ini").click()
        page.wait_for_url("**/kader")
        mine = page.locator("section", has=page.locator("#mine-h")).inner_text()
        assert "Diterima pusat: 1" in mine and "Tersimpan di kit: 0" in mine, mine
        fits_width(page)
        check_page(page, "kader-360-home-states")
        context.close()


def test_lockout_messages_with_the_wait_on_both_forms(browser: Browser) -> None:
    with serve() as server:
        phone = browser.new_context(viewport=PHONE_VIEW, is_mobile=True, has_touch=True)
        page = phone.new_page()
        page.goto(server.url + "/kader/masuk")
        for n in range(5):
            page.get_by_label("ID kader").fill("kader01")
            page.get_by_label("PIN").fill(f"00000{n}")
            with page.expect_navigation():  # the same URL each time: wait for the load
                page.get_by_role("button", name="Masuk").click()
        alert = page.get_by_role("alert")
        assert alert.inner_text() == "Terlalu banyak percobaan. Coba lagi dalam 5 menit."
        fits_width(page)
        check_page(page, "kader-360-locked")
        phone.close()

        kiosk = browser.new_context(viewport=KIOSK_VIEW)
        page = kiosk.new_page()
        page.goto(server.url + "/admin/masuk")
        page.get_by_label("Sandi operator").fill("salah")
        page.get_by_role("button", name="Masuk").click()
        page.wait_for_url("**/admin/masuk?m=failed")
        server.rig.clock.advance(1)
        for _ in range(4):
            page.get_by_label("Sandi operator").fill("salah")
            with page.expect_navigation():
                page.get_by_role("button", name="Masuk").click()
        assert "Coba lagi dalam 5 menit." in page.get_by_role("alert").inner_text()
        page.get_by_label("Sandi operator").fill(ADMIN_PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Masuk").click()
        assert "/admin/masuk?m=locked" in page.url  # the right password is refused too
        check_page(page, "admin-locked")
        kiosk.close()
