"""/quality in real Chromium (Debian) against the real `gempita central` on PostgreSQL, with
the seeds of tests/central/test_quality.py: a Dinkes user opens the page from the menu, reads
a gateway's counts, clicks through to its devices, and reads it again on a phone; a
Puskesmas user cannot open another wilayah's gateway. Screenshots (1280 and 360 px) under
the test's tmp dir, paths printed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from central.store import CentralStore
from tests.central.cascade_seed import WILAYAH_TOML
from tests.central.test_quality import seed_quality
from tests.support.mosquitto import Mosquitto

from .test_browser import DESKTOP, PHONE, STAFF, Shots, sign_in
from .web_process import central_web

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.slow]
MONTH = "period=month&date=2026-12-02"


@pytest.fixture
def central(postgres_db: str, mosquitto: Mosquitto, tmp_path: Path) -> Iterator[str]:
    """URL of a running central on a seeded PostgreSQL database, with the cascade's wilayah."""
    store = CentralStore(postgres_db)
    try:
        seed_quality(store)
    finally:
        store.close()
    with central_web(postgres_db, mosquitto.url, tmp_path, STAFF[:2], WILAYAH_TOML) as url:
        yield url


def cells(page: Page, selector: str) -> list[str]:
    return [c.strip() for c in page.locator(f"{selector} td").all_inner_texts()]


def test_dinkes_reads_the_gateways_then_one_gateways_devices(
    browser: Browser, central: str, tmp_path: Path
) -> None:
    shots = Shots(tmp_path / "screenshots")
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, central, "dina")
    page.wait_for_url(f"{central}/")
    menu = page.get_by_role("navigation", name="Menu utama")
    menu.get_by_role("link", name="Kualitas data").click()
    page.wait_for_url(f"{central}/quality")
    page.get_by_label("Tanggal", exact=True).fill("2026-12-02")
    page.get_by_label("Periode", exact=True).select_option("month")
    page.get_by_role("button", name="Tampilkan").click()
    page.wait_for_url(f"**/quality?{MONTH}")
    assert page.locator("h1").inner_text() == "Kualitas data"
    # readings, untrusted clock, control, HI/LO, unbound, out of policy, duplicates, dead
    assert cells(page, 'tr[data-gateway="gw-a"]') == ["7", "3", "1", "2", "2", "1", "3", "2"]
    assert cells(page, 'tr[data-gateway="*"]') == ["11", "4", "1", "3", "3", "2", "4", "4"]
    assert page.locator('svg[role="img"]').count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    shots.take(page, "quality-city-desktop")

    page.get_by_role("link", name="gw-a", exact=True).click()
    page.wait_for_url("**gateway=gw-a")
    assert cells(page, 'tr[data-device="test:gl-1"]') == ["3", "1", "1", "2", "1", "0", "–", "–"]
    shots.take(page, "quality-gateway-desktop")

    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shots.take(page, "quality-gateway-phone")
    page.get_by_role("link", name="Semua gateway").click()
    page.wait_for_url(f"**/quality?{MONTH}")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shots.take(page, "quality-city-phone")
    context.close()


def test_puskesmas_user_sees_only_their_gateway(
    browser: Browser, central: str, tmp_path: Path
) -> None:
    shots = Shots(tmp_path / "screenshots")
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, central, "budi")
    page.wait_for_url(f"{central}/")
    page.goto(f"{central}/quality?{MONTH}")
    assert page.locator("tbody tr[data-gateway]").count() == 1
    assert cells(page, 'tr[data-gateway="gw-a"]') == ["7", "3", "1", "2", "2", "1", "3", "2"]
    answer = page.goto(f"{central}/quality?{MONTH}&gateway=gw-b")
    assert answer is not None
    assert answer.status == 404
    assert "Manggar" not in page.content()
    shots.take(page, "quality-puskesmas-other-gateway")
    context.close()
