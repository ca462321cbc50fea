"""Issue 14 item 4 in Chromium: the kader keeps a meter fit from a 360 px phone, and the
operator's /admin/mutu page fits the 800x480 kiosk screen."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from core.assurance import ControlRange, Entries

from .helpers import ADMIN_PASSWORD, KADER_PIN
from .test_browser import KIOSK_VIEW, PHONE_VIEW, browser, check_page, serve
from .test_kader_assurance import TODAY, attach_book, control_test

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with test_browser


@pytest.fixture(scope="module")
def shots() -> Iterator[Path]:
    # Screenshots for review go to a temporary directory (never the tree); its path is printed.
    path = Path(tempfile.mkdtemp(prefix="gempita-kaderqc-"))
    yield path
    print(f"\nkader assurance screenshots: {path}")


def fits(page: Page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll} px wide on a {width} px screen"


def shoot(page: Page, shots: Path, name: str) -> None:
    check_page(page)
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_the_kader_marks_an_expired_strip_lot_and_corrects_it_on_a_phone(
    browser: Browser, shots: Path, tmp_path: Path
) -> None:
    with serve() as server:
        clock = server.rig.clock
        book = attach_book(server.rig, tmp_path / "assurance.json")
        # The vial's range was entered last week and this morning's control test passed.
        book.set_entries("glucose", Entries(control=ControlRange(100, 140, lot="CV-9")))
        book.log_controls("glucose", [control_test(clock, 1, 118.0, 2)])
        context = browser.new_context(viewport=PHONE_VIEW, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.goto(server.url + "/kader/masuk")
        page.get_by_label("ID kader").fill("kader01")
        page.get_by_label("PIN").fill(KADER_PIN)
        page.get_by_role("button", name="Masuk").click()
        page.wait_for_url("**/kader")
        page.get_by_role("link", name="Mutu alat").click()
        page.wait_for_url("**/kader/mutu")
        fits(page, 360)
        shoot(page, shots, "kader-360-mutu-list")
        page.get_by_role("link", name="glucose").click()
        page.wait_for_url("**/kader/mutu/glucose")
        assert page.get_by_role("row", name="118.0").inner_text().endswith("Lulus")

        # A lot that expired yesterday: accepted, and the meter is flagged with the reason.
        yesterday = TODAY - timedelta(days=1)
        page.get_by_label("Lot strip").fill("S-OLD")
        page.get_by_label("Strip kedaluwarsa").fill(yesterday.isoformat())
        page.get_by_role("button", name="Simpan").click()
        flag = page.locator("[data-device-check]")
        flag.wait_for()
        assert flag.inner_text() == "⚠ Alat perlu diperiksa"
        state = page.locator(".mutu-state").inner_text()
        assert "Strip sudah kedaluwarsa" in state, state
        assert "Tanggal kedaluwarsa sudah lewat" in page.get_by_role("alert").inner_text()
        assert page.get_by_label("Strip kedaluwarsa").input_value() == yesterday.isoformat()
        assert book.entries("glucose").strip_lot == "S-OLD"
        fits(page, 360)
        shoot(page, shots, "kader-360-mutu-expired")
        page.get_by_role("link", name="Mutu alat").click()
        page.wait_for_url("**/kader/mutu")
        assert "Strip sudah kedaluwarsa" in page.get_by_role("link", name="glucose").inner_text()
        page.get_by_role("link", name="glucose").click()
        page.wait_for_url("**/kader/mutu/glucose")

        # A wrong range is refused with the reason, and what was typed stays to be corrected.
        page.get_by_label("Rentang kontrol bawah (mg/dL)").fill("150")
        page.get_by_role("button", name="Simpan").click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "batas bawah (150) lebih tinggi dari batas atas (140)" in alert.inner_text()
        fits(page, 360)
        shoot(page, shots, "kader-360-mutu-bad-range")

        # The new box of strips: the meter is fit again.
        page.get_by_label("Rentang kontrol bawah (mg/dL)").fill("100")
        page.get_by_label("Lot strip").fill("S-NEW")
        page.get_by_label("Strip kedaluwarsa").fill("2027-06-30")
        page.get_by_role("button", name="Simpan").click()
        page.get_by_text("Data mutu alat tersimpan.").wait_for()
        assert page.locator("[data-device-check]").count() == 0
        assert page.locator(".mutu-state").get_attribute("data-status") == "ok"
        assert "Layak pakai" in page.locator(".mutu-state").inner_text()
        assert book.entries("glucose").strip_expires == date(2027, 6, 30)
        fits(page, 360)
        shoot(page, shots, "kader-360-mutu-fit")
        context.close()


def test_the_operator_mutu_page_fits_the_kiosk_screen(
    browser: Browser, shots: Path, tmp_path: Path
) -> None:
    with serve() as server:
        clock = server.rig.clock
        book = attach_book(server.rig, tmp_path / "assurance.json")
        book.set_entries(
            "glucose",
            Entries(
                strip_lot="S-77-LONG-LOT-NUMBER-2026",
                strip_expires=date(2027, 1, 31),
                control=ControlRange(100, 140, lot="CV-9", expires=date(2027, 5, 1)),
            ),
        )
        book.log_controls(
            "glucose", [control_test(clock, n, 100.0 + 7 * n, 30 - n) for n in range(1, 8)]
        )
        context = browser.new_context(viewport=KIOSK_VIEW)
        page = context.new_page()
        page.goto(server.url + "/admin/masuk")
        page.get_by_label("Sandi operator").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Masuk").click()
        page.wait_for_url("**/admin")
        page.goto(server.url + "/admin/mutu/glucose")
        fits(page, 800)
        shoot(page, shots, "admin-800-mutu")
        page.get_by_label("Strip kedaluwarsa").fill("")
        page.get_by_label("Rentang kontrol atas (mg/dL)").fill("90")
        page.get_by_role("button", name="Simpan").click()
        page.get_by_role("alert").wait_for()
        fits(page, 800)
        shoot(page, shots, "admin-800-mutu-error")
        page.goto(server.url + "/admin/mutu/bp")
        fits(page, 800)
        context.close()
