"""/fleet in real Chromium (Debian) against the real `gempita central` on PostgreSQL and real
mosquitto: a real `gempita run` gateway (gw-001) and a small gateway-like MQTT client (gw-002),
each with its Last Will. The page is opened once; the gateway is killed with SIGKILL (no
DISCONNECT: the broker publishes the will) and its row must turn offline within 5 s without
the page being reloaded, while gw-002 stays online. A Puskesmas user of another wilayah sees
neither and gets a 404 by URL. Screenshots (1280 and 360 px) under the test's tmp dir, paths
printed, with the measured time from the kill to the row turning offline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page

from core.topics import topic_status
from tests.support.mosquitto import Mosquitto
from tests.support.processes import gateway_process, write_gateway_config

from .test_browser import DESKTOP, PHONE, STAFF, Shots, sign_in
from .web_process import central_web

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.slow]

# gw-001's site ("fault-test", from write_gateway_config) and gw-002's lie in kelurahan
# 6471011001, budi's; citra's wilayah (6471021001) has none of them.
WILAYAH_TOML = """
[[kecamatan]]
code = "647101"
name = "Balikpapan Selatan"

[[kelurahan]]
code = "6471011001"
name = "Sepinggan"
kecamatan = "647101"

[[site]]
id = "fault-test"
name = "Kios Uji"
kelurahan = "6471011001"

[[site]]
id = "kit-uji"
name = "Kit Uji"
kelurahan = "6471011001"
"""
OFFLINE_WITHIN_MS = 5000


@pytest.fixture
def central(postgres_db: str, mosquitto: Mosquitto, tmp_path: Path) -> Iterator[str]:
    with central_web(postgres_db, mosquitto.url, tmp_path, STAFF[:3], WILAYAH_TOML) as url:
        yield url


@pytest.fixture
def kit(mosquitto: Mosquitto) -> Iterator[paho.Client]:
    """gw-002: a gateway-like client, its retained status online and its Last Will offline."""
    topic = topic_status("gw-002")
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="gw-002", protocol=paho.MQTTv5)
    will = {"schema": "gempita.status/1", "gateway_id": "gw-002", "state": "offline",
            "at": time.time()}  # fmt: skip
    client.will_set(topic, json.dumps(will), qos=1, retain=True)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    online = {
        "schema": "gempita.status/1",
        "gateway_id": "gw-002",
        "state": "online",
        "version": "0.1.0",
        "at": time.time(),
        "site_id": "kit-uji",
        "kind": "kit",
        "outbox": {"pending": 0, "published": 0, "unconfirmed": 0, "max_readings": 1000},
        "alarms": [],
        "devices": [
            {
                "name": "glu-kit",
                "kind": "glucose",
                "transport": "ble",
                "battery_pct": 7,
                "assurance": {"status": "out_of_policy", "reasons": ["battery_critical"]},
            }
        ],
    }
    client.publish(topic, json.dumps(online), qos=1, retain=True).wait_for_publish(10)
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def state_of(page: Page, gateway_id: str) -> str | None:
    return page.locator(f'tr[data-gateway="{gateway_id}"]').get_attribute("data-state")


def test_a_killed_gateway_turns_offline_on_the_open_page(
    browser: Browser,
    central: str,
    mosquitto: Mosquitto,
    kit: paho.Client,
    tmp_path: Path,
) -> None:
    shots = Shots(tmp_path / "screenshots")
    config = write_gateway_config(
        tmp_path / "gateway.toml", tmp_path / "gw", mosquitto.url, device_records=5
    )
    gateway = gateway_process(config, tmp_path / "gateway.log").start()
    try:
        gateway.wait_for_log("connected to", 30)
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        sign_in(page, central, "dina")
        page.wait_for_url(f"{central}/")
        page.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Armada").click()
        page.wait_for_url(f"{central}/fleet")
        assert page.locator("h1").inner_text() == "Armada gateway"
        # The poller brings both gateways in, online, without a reload.
        page.locator('tr[data-gateway="gw-001"][data-state="online"]').wait_for(timeout=20000)
        page.locator('tr[data-gateway="gw-002"][data-state="online"]').wait_for(timeout=20000)
        assert "Diperbarui otomatis" in page.locator("#fleet-live-note").inner_text()
        # A mark on this document: a reload would lose it.
        page.evaluate("window.fleetNotReloaded = true")
        shots.take(page, "fleet-online-desktop")

        gateway.kill()
        killed = time.monotonic()
        page.locator('tr[data-gateway="gw-001"][data-state="offline"]').wait_for(
            timeout=OFFLINE_WITHIN_MS
        )
        elapsed = time.monotonic() - killed
        print(f"gw-001 offline on the open /fleet page {elapsed:.2f} s after SIGKILL")
        assert page.evaluate("window.fleetNotReloaded === true")
        assert state_of(page, "gw-002") == "online"
        row = page.locator('tr[data-gateway="gw-001"]')
        assert "Terputus" in row.inner_text()
        assert "Gateway tidak terhubung" in row.inner_text()
        assert "1 alat perlu diperiksa" in page.locator('tr[data-gateway="gw-002"]').inner_text()
        shots.take(page, "fleet-offline-desktop")

        # The phone: rows become cards, nothing wider than the screen.
        page.set_viewport_size(PHONE)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shots.take(page, "fleet-offline-phone")

        # The filter keeps working after the swaps; the detail shows the will in its timeline.
        page.set_viewport_size(DESKTOP)
        page.get_by_label("Status", exact=True).select_option("offline")
        page.get_by_role("button", name="Saring").click()
        page.wait_for_url("**/fleet?*state=offline*")
        assert page.locator("tr[data-gateway]").count() == 1
        page.get_by_role("link", name="gw-001").click()
        page.wait_for_url(f"{central}/fleet/gw-001")
        assert "Terputus" in page.locator("#gw-state").inner_text()
        assert page.locator('#timeline tr[data-kind="went_offline"]').count() == 1
        shots.take(page, "fleet-detail-gw-001-desktop")
        page.goto(f"{central}/fleet/gw-002")
        device = page.locator('#devices tr[data-device="glu-kit"]')
        assert "Alat perlu diperiksa" in device.inner_text()
        assert "Baterai kritis" in device.inner_text()
        page.set_viewport_size(PHONE)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shots.take(page, "fleet-detail-gw-002-phone")
        context.close()

        # Budi's wilayah holds both sites; citra's holds neither, by the list or by URL.
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        sign_in(page, central, "budi")
        page.wait_for_url(f"{central}/")
        page.goto(f"{central}/fleet")
        assert page.locator("tr[data-gateway]").count() == 2
        context.close()
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        sign_in(page, central, "citra")
        page.wait_for_url(f"{central}/")
        page.goto(f"{central}/fleet")
        assert page.locator("tr[data-gateway]").count() == 0
        assert page.locator("#fleet-empty").is_visible()
        answer = page.goto(f"{central}/fleet/gw-001")
        assert answer is not None and answer.status == 404
        shots.take(page, "fleet-coordinator-refused-phone")
        context.close()
    finally:
        gateway.kill()
