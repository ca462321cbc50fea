"""Issue 14 item 2 in Chromium: the kader's phone carries a kit's readings to central and
brings the receipt back, with the phone offline in between.

Real parts: the Gateway hosting the kiosk (its outbox holds the simulated monitor's readings;
its broker is unreachable, so they stay unconfirmed), `gempita pki` keys, central's upload
router under uvicorn with a real SQLite store, and Debian's Chromium. The phone is one browser
context; the kit's Wi-Fi is a TCP proxy in front of the kiosk that the test closes when the
kader walks away and opens when the kader comes back, and the phone's internet is another in
front of central, open only while the kader is away (two origins: kit and central).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from central.bundle_import import CentralKeys
from central.bundle_upload import PATH, make_router
from central.store import CentralStore
from core.clock import utc_now
from gateway.cli.compose import build_gateway
from gateway.config import parse_config
from gateway.service import Gateway
from kiosk.security import hash_secret
from simulators.ble.cli import demo_air, demo_device_configs
from tests.bundle.keys import Keys, make_keys
from tests.kiosk.test_browser import ARGS, CHROMIUM, PHONE_VIEW, check_page
from tests.kiosk_e2e.helpers import PROGRAMME_KEY, admin_hash
from tests.support.mosquitto import free_port
from tests.support.proxy import CuttableProxy

pytestmark = [pytest.mark.browser, pytest.mark.slow]

T = TypeVar("T")
GATEWAY_ID = "gw-carry"
KADER_PIN = "604417"
READINGS = 3


@dataclass
class World:
    loop: asyncio.AbstractEventLoop
    gateway: Gateway
    kit_wifi: CuttableProxy
    internet: CuttableProxy  # the phone's way to central; closed while on the kit's Wi-Fi
    kit_url: str
    central_url: str
    central: CentralStore

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@contextmanager
def world(tmp: Path, kit_host: str = "127.0.0.1") -> Iterator[World]:
    """`kit_host`: the name the phone opens the kit by (a name mapped to 127.0.0.1 in
    Chromium makes an origin that is not a secure context, as a kit's Wi-Fi IP is)."""
    keys: Keys = make_keys(tmp / "pki", gateway_id=GATEWAY_ID)
    (tmp / "programme.key").write_text(PROGRAMME_KEY.hex())
    air = demo_air(devices=("bp",), bp_records=READINGS)
    devices = [
        dataclasses.replace(d, options={**d.options, "poll_s": 0.2, "retry_initial_s": 0.2})
        for d in demo_device_configs(air)
    ]
    kiosk_port, central_port = free_port(), free_port()
    kit_wifi = CuttableProxy(kiosk_port)
    kit_url = f"http://{kit_host}:{kit_wifi.port}"
    internet = CuttableProxy(central_port)
    central_url = f"http://127.0.0.1:{internet.port}"
    (tmp / "gw").mkdir()
    config = parse_config(
        {
            "gateway": {"id": GATEWAY_ID, "site_id": "carry", "state_dir": str(tmp / "gw")},
            "mqtt": {
                # No broker: the kit is where no network reaches.
                "url": f"mqtt://127.0.0.1:{free_port()}",
                "backoff_initial_s": 0.5,
                "backoff_max_s": 2.0,
                "ca_file": str(keys.directory / "ca.crt"),
                "cert_file": str(keys.directory / f"{GATEWAY_ID}.crt"),
                "key_file": str(keys.directory / f"{GATEWAY_ID}.key"),
            },
            "kiosk": {
                "enabled": True,
                "host": "127.0.0.1",
                "port": kiosk_port,
                "settings": {
                    "programme_key_file": str(tmp / "programme.key"),
                    "central_public_key_file": str(keys.x25519_pub_file),
                    "admin_password_hash": admin_hash(),
                    "kader_pin_hashes": {"kader01": hash_secret(KADER_PIN)},
                    "puskesmas_name": "Puskesmas Karang Jati",
                    "puskesmas_address": "Jl. Mayjen Sutoyo, Balikpapan Tengah",
                    "bp_device": devices[0].name,
                    "glucose_device": None,
                    "central_upload_url": central_url + PATH,
                },
            },
        },
        source="carry",
    )
    config = dataclasses.replace(config, devices=tuple(devices))
    store = CentralStore(f"sqlite:///{tmp / 'central.db'}")
    central_keys = CentralKeys(
        x25519_private=keys.x25519_private, trust=keys.trust, signer=keys.central
    )
    app = FastAPI()
    app.include_router(make_router(store, central_keys, utc_now, allowed_origins=[kit_url]))
    central = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=central_port, log_level="warning", ws="none")
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="carry-world", daemon=True)
    thread.start()
    gateway = build_gateway(config, status_file_interval_s=0.5)

    async def start() -> list[asyncio.Task[Any]]:
        tasks = [
            asyncio.create_task(gateway.run(), name="gateway-under-test"),
            asyncio.create_task(central.serve(), name="central-under-test"),
        ]
        await kit_wifi.start()
        return tasks

    tasks = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    here = World(loop, gateway, kit_wifi, internet, kit_url, central_url, store)
    try:
        wait_until(lambda: gateway.ready.is_set() and central.started, "gateway and central")
        wait_until(
            lambda: gateway.devices[devices[0].name].readings_total >= READINGS, "meter read"
        )
        yield here
    finally:
        central.should_exit = True

        async def stop() -> None:
            await kit_wifi.stop()
            await internet.stop()
            tasks[0].cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await air.aclose()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def fits_phone(page: Page) -> None:
    check_page(page)  # the kiosk's accessibility checks
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_VIEW["width"], f"{page.url} is {width} px wide"


def states(page: Page) -> list[str]:
    return [s.strip() for s in page.locator("#carry-list .carry-state").all_inner_texts()]


def wait_states(page: Page, wanted: list[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while states(page) != wanted:
        if time.monotonic() > deadline:
            shown = page.locator("#carry-status").inner_text()
            raise AssertionError(f"{page.url} shows {states(page)}, not {wanted} ({shown!r})")
        page.wait_for_timeout(100)


def open_carry(page: Page, url: str) -> None:
    page.goto(url + "/kader/bawa/")
    page.wait_for_selector("body[data-ready='yes']", state="attached")


def sign_in(page: Page, url: str) -> None:
    page.goto(url + "/kader/masuk")
    page.get_by_label("ID kader").fill("kader01")
    page.get_by_label("PIN").fill(KADER_PIN)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url("**/kader")


def unconfirmed(w: World) -> dict[str, str]:
    async def look() -> dict[str, str]:
        def ids() -> list[str]:
            import sqlite3

            with sqlite3.connect(w.gateway.config.outbox_path) as conn:
                return [r[0] for r in conn.execute("SELECT id FROM outbox")]

        return dict(await w.gateway.outbox.states(await asyncio.to_thread(ids)))

    return w.call(look())


def test_the_phone_carries_the_bundle_to_central_and_the_receipt_back(
    browser: Browser, tmp_path: Path
) -> None:
    with world(tmp_path) as w:
        before = unconfirmed(w)
        assert len(before) == READINGS and set(before.values()) == {"pending"}, before
        phone: BrowserContext = browser.new_context(
            viewport=PHONE_VIEW, is_mobile=True, has_touch=True
        )
        page = phone.new_page()

        # On the kit's Wi-Fi (no internet there): the kader page offers the carry, the phone
        # takes the bundle and keeps it.
        sign_in(page, w.kit_url)
        page.get_by_role("link", name="Bawa data ke pusat (lewat HP)").click()
        page.wait_for_selector("body[data-ready='yes']", state="attached")
        page.wait_for_selector("body[data-worker='ready']", state="attached")
        page.get_by_role("button", name="Bawa data ke pusat").click()
        wait_states(page, ["Dibawa"])
        fits_phone(page)
        status = page.get_by_role("status").inner_text()
        assert status.startswith(f"Data diambil: {READINGS} bacaan."), status
        background_sync = bool(page.evaluate("'SyncManager' in self"))
        assert ("HP akan mengirim sendiri" in status) == background_sync, status
        page.wait_for_timeout(1000)  # a sync attempt now finds no central: nothing changes
        wait_states(page, ["Dibawa"])

        # Walking away: no kit, no internet. The page opens from the service worker's copy,
        # the bundle is still on the phone, and sending says why it cannot.
        w.call(w.kit_wifi.stop())
        phone.set_offline(True)
        open_carry(page, w.kit_url)
        wait_states(page, ["Dibawa"])
        assert page.get_by_role("button", name="Bawa data ke pusat").is_hidden()
        page.get_by_role("button", name="Kirim sekarang").click()
        page.get_by_role("status").filter(has_text="HP belum dapat internet").wait_for()
        wait_states(page, ["Dibawa"])
        assert w.central.count() == 0

        # A bundle damaged on the phone travels with the good one: central refuses it whole.
        page.evaluate(
            """u => GempitaCarry.put({sha256: 'damaged', name: 'x', count: 1, chunk: 1,
                 chunks: 1, export_id: 'x', gateway_id: 'gw-carry', central_url: u,
                 data: new TextEncoder().encode('GEMPITA-BUNDLE/1\\nshort').buffer,
                 state: 'carried', taken_at: '9999', receipt: null, error: null,
                 confirmed: null})""",
            w.central_url + PATH,
        )

        # Online (still away from the kit): "Kirim sekarang" delivers it. (The sync that
        # failed on the kit's Wi-Fi is retried by Chromium only minutes later; the next test
        # shows Background Sync delivering on its own.)
        w.call(w.internet.start())
        phone.set_offline(False)
        page.get_by_role("button", name="Kirim sekarang").click()
        wait_states(page, ["Terkirim", "Ditolak pusat"])
        fits_phone(page)
        refusal = page.get_by_role("alert").inner_text()
        assert "bundle refused, nothing imported" in refusal and "truncated" in refusal
        assert w.central.count() == READINGS
        assert set(unconfirmed(w).values()) == {"pending"}  # nothing confirmed before the receipt

        # Back on the kit's Wi-Fi: the page hands the receipt back, the kit confirms.
        w.call(w.kit_wifi.start())
        open_carry(page, w.kit_url)
        wait_states(page, ["Dikonfirmasi", "Ditolak pusat"])
        status = page.get_by_role("status").inner_text()
        assert status == f"Bukti terima diserahkan ke kit: {READINGS} bacaan dikonfirmasi.", status
        assert set(unconfirmed(w).values()) == {"confirmed"}
        fits_phone(page)
        phone.close()


def test_background_sync_delivers_without_a_press(browser: Browser, tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.call(w.internet.start())
        phone = browser.new_context(viewport=PHONE_VIEW, is_mobile=True, has_touch=True)
        page = phone.new_page()
        sign_in(page, w.kit_url)
        open_carry(page, w.kit_url)
        page.wait_for_selector("body[data-worker='ready']", state="attached")
        if not page.evaluate("'SyncManager' in self"):
            pytest.skip("this Chromium has no Background Sync; the button is tested above")
        page.get_by_role("button", name="Bawa data ke pusat").click()
        # No press on "Kirim sekarang": the service worker's sync event uploads, and tells
        # the page, which shows the bundle delivered.
        wait_states(page, ["Terkirim"])
        assert w.central.count() == READINGS
        phone.close()
