"""The carry page as a real phone meets it without HTTPS: http://<kit's Wi-Fi IP> is not a
secure context, so there is no service worker, and the page must still carry the bundle.

Chromium maps the name kit.test to 127.0.0.1 (`--host-resolver-rules`), so the kit's origin is
http://kit.test:PORT: unlike http://127.0.0.1 (which browsers treat as potentially
trustworthy), it is not a secure context, as http://10.42.0.1 is not on a phone. The rest is
the world of test_browser_carry: the real gateway hosting the kiosk, central's real upload
router, the kit's Wi-Fi and the phone's internet as proxies the test opens and closes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from kiosk.i18n import text
from tests.kiosk.test_browser import ARGS, CHROMIUM, PHONE_VIEW
from tests.kiosk_carry.test_browser_carry import (
    READINGS,
    fits_phone,
    open_carry,
    sign_in,
    unconfirmed,
    wait_states,
    world,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KIT_HOST = "kit.test"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[*ARGS, f"--host-resolver-rules=MAP {KIT_HOST} 127.0.0.1"],
            headless=True,
        )
        yield browser
        browser.close()


def kept_in_indexeddb(page: Page) -> list[str]:
    """The states of the bundles IndexedDB holds, read past the page's own script."""
    return list(
        page.evaluate(
            """() => new Promise((resolve, reject) => {
                 const req = indexedDB.open('gempita-carry');
                 req.onerror = () => reject(req.error);
                 req.onsuccess = () => {
                   const get = req.result.transaction('bundles').objectStore('bundles').getAll();
                   get.onsuccess = () => {
                     resolve(get.result.map(r => r.state));
                     req.result.close();
                   };
                   get.onerror = () => reject(get.error);
                 };
               })"""
        )
    )


def test_without_https_the_tab_carries_the_bundle_while_it_stays_open(
    browser: Browser, tmp_path: Path
) -> None:
    with world(tmp_path, kit_host=KIT_HOST) as w:
        assert w.kit_url.startswith(f"http://{KIT_HOST}:")
        phone = browser.new_context(viewport=PHONE_VIEW, is_mobile=True, has_touch=True)
        page = phone.new_page()
        sign_in(page, w.kit_url)
        open_carry(page, w.kit_url)

        # Not a secure context: no service worker, and the page says what to do instead.
        assert page.evaluate("window.isSecureContext") is False
        assert page.evaluate("'serviceWorker' in navigator") is False
        assert page.locator("body").get_attribute("data-secure") == "no"
        notice = page.locator("#carry-insecure").inner_text()
        assert notice == text("carry_insecure", "id"), notice
        assert "JANGAN tutup tab ini" in notice and "Kirim sekarang" in notice
        assert "perlu HTTPS" not in page.get_by_role("status").inner_text()

        # The phone takes the bundle: it is kept in IndexedDB even on plain http.
        page.get_by_role("button", name="Bawa data ke pusat").click()
        wait_states(page, ["Dibawa"])
        status = page.get_by_role("status").inner_text()
        assert status.startswith(f"Data diambil: {READINGS} bacaan."), status
        assert status.endswith(text("carry_keep_tab", "id")), status
        assert "HP akan mengirim sendiri" not in status  # no worker, so no Background Sync
        assert kept_in_indexeddb(page) == ["carried"]
        fits_phone(page)

        # The kader walks away with the tab open: no kit, no internet, then internet.
        w.call(w.kit_wifi.stop())
        phone.set_offline(True)
        page.get_by_role("button", name="Kirim sekarang").click()
        page.get_by_role("status").filter(has_text="HP belum dapat internet").wait_for()
        assert w.central.count() == 0
        w.call(w.internet.start())
        phone.set_offline(False)
        page.get_by_role("button", name="Kirim sekarang").click()
        wait_states(page, ["Terkirim"])
        assert w.central.count() == READINGS
        assert kept_in_indexeddb(page) == ["delivered"]  # the receipt outlives the tab

        # Back on the kit's Wi-Fi, a fresh page (the tab may have been closed after
        # "Terkirim") hands the receipt from IndexedDB back and the kit confirms.
        w.call(w.kit_wifi.start())
        open_carry(page, w.kit_url)
        wait_states(page, ["Dikonfirmasi"])
        assert set(unconfirmed(w).values()) == {"confirmed"}
        phone.close()


def test_english_says_keep_the_tab_open_too(browser: Browser, tmp_path: Path) -> None:
    with world(tmp_path, kit_host=KIT_HOST) as w:
        phone = browser.new_context(viewport=PHONE_VIEW, is_mobile=True, has_touch=True)
        page = phone.new_page()
        page.goto(w.kit_url + "/kader/bawa/?lang=en")
        page.wait_for_selector("body[data-ready='yes']", state="attached")
        notice = page.locator("#carry-insecure").inner_text()
        assert notice == text("carry_insecure", "en") and "do NOT close this tab" in notice
        phone.close()
