"""/cascade in real Chromium (Debian) against the real `gempita central` on PostgreSQL, with
the known screenings of tests/central/cascade_seed.py and their worked referrals: a Dinkes
user drills city -> kecamatan -> kelurahan -> site reading the numbers off the page; a
Puskesmas user cannot open another wilayah's kecamatan. Screenshots (1280 and 360 px) under
the test's tmp dir, paths printed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.central.cascade_seed import WILAYAH_TOML, follow_up, seed
from tests.support.mosquitto import Mosquitto

from .test_browser import DESKTOP, PHONE, STAFF, Shots, sign_in
from .web_process import central_web

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.slow]


@pytest.fixture
def central(postgres_db: str, mosquitto: Mosquitto, tmp_path: Path) -> Iterator[str]:
    """URL of a running central on a seeded PostgreSQL database, with the seed's wilayah."""
    seed(postgres_db)
    follow_up(postgres_db)
    with central_web(postgres_db, mosquitto.url, tmp_path, STAFF[:2], WILAYAH_TOML) as url:
        yield url


def summary(page: Page) -> dict[str, str]:
    keys = ("screened", "positive", "urgent", "target", "coverage", "referred", "came", "confirmed")
    return {k: page.locator(f"#n-{k}").inner_text().strip() for k in keys}


def row(page: Page, code: str) -> list[str]:
    return [c.strip() for c in page.locator(f'tr[data-code="{code}"] td').all_inner_texts()]


def test_dinkes_drills_from_city_to_site(browser: Browser, central: str, tmp_path: Path) -> None:
    shots = Shots(tmp_path / "screenshots")
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, central, "dina")
    page.wait_for_url(f"{central}/")
    page.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Cakupan").click()
    page.wait_for_url(f"{central}/cascade")
    # The period's filter: December 2026, the month of the seeded screenings.
    page.get_by_label("Tanggal", exact=True).fill("2026-12-02")
    page.get_by_label("Periode", exact=True).select_option("month")
    page.get_by_role("button", name="Tampilkan").click()
    page.wait_for_url("**/cascade?period=month&date=2026-12-02")
    assert page.locator("h1").inner_text() == "Cakupan skrining"
    assert summary(page) == {
        "screened": "7", "positive": "4", "urgent": "3", "target": "target belum diisi",
        "coverage": "target belum diisi", "referred": "4", "came": "3", "confirmed": "2",
    }  # fmt: skip
    assert row(page, "647102") == ["1", "1", "1", "0.2%"]
    assert page.locator('svg[role="img"]').count() == 4
    shots.take(page, "cascade-city-desktop")

    page.get_by_role("link", name="Balikpapan Selatan").click()
    page.wait_for_url("**kecamatan=647101")
    assert summary(page)["screened"] == "5"
    assert summary(page)["confirmed"] == "1"  # Manggar's P4 is in the other kecamatan
    assert row(page, "6471011001") == ["3", "2", "2", "0.3%"]
    assert row(page, "6471011002") == ["2", "1", "0", "target belum diisi"]
    shots.take(page, "cascade-kecamatan-desktop")

    page.get_by_role("link", name="Sepinggan").click()
    page.wait_for_url("**kelurahan=6471011001")
    assert summary(page)["screened"] == "3"
    assert summary(page)["target"] == "1000"
    assert summary(page)["coverage"] == "0.3%"
    shots.take(page, "cascade-kelurahan-desktop")

    page.get_by_role("link", name="Kit kader Sepinggan").click()
    page.wait_for_url("**site=kit-sepinggan")
    assert summary(page)["screened"] == "1"
    assert summary(page)["urgent"] == "0"
    # The glucose chart's table: P1's fasting 95 mg/dL is borderline.
    glucose = page.locator("table.chart-table").filter(has_text="gula darah")
    assert "Perlu perhatian" in glucose.locator("tr", has_text="Perlu perhatian").inner_text()
    assert glucose.locator("tr", has_text="Perlu perhatian").locator("td").inner_text() == "1"
    shots.take(page, "cascade-site-desktop")

    # Back up the trail to the kecamatan, then read the page on a phone.
    page.get_by_role("navigation", name="Letak wilayah").get_by_role(
        "link", name="Balikpapan Selatan"
    ).click()
    page.wait_for_url("**kecamatan=647101")
    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shots.take(page, "cascade-kecamatan-phone")
    context.close()


def test_puskesmas_user_stays_in_their_wilayah(
    browser: Browser, central: str, tmp_path: Path
) -> None:
    shots = Shots(tmp_path / "screenshots")
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, central, "budi")
    page.wait_for_url(f"{central}/")
    page.goto(f"{central}/cascade?period=month&date=2026-12-02")
    assert summary(page)["screened"] == "5"
    assert page.locator("tr[data-code]").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shots.take(page, "cascade-puskesmas-phone")
    answer = page.goto(f"{central}/cascade?period=month&date=2026-12-02&kecamatan=647102")
    assert answer is not None
    assert answer.status == 404
    assert "Manggar" not in page.content()
    shots.take(page, "cascade-puskesmas-other-kecamatan")
    context.close()
