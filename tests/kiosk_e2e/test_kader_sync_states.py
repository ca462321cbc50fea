"""Issue 10 item 4 through the real chain: a kader's reading goes stored -> sent -> confirmed
on the kader's pages while the broker is down, then up with central away, then central back.

Real parts only: the Gateway hosting the kiosk (uvicorn on a loopback port), a simulated BLE
monitor read by the real BLE runner, the SQLite outbox, Debian's mosquitto (reached through a
TCP proxy the test closes and opens: the kit loses its link) and the reference central
service, stopped and started again. The kader is an httpx
client posting the same forms a phone does. Before the fix the page only had the kit-wide
"Belum terkirim: N" (PENDING rows only), which read 0 while this reading was published but
not confirmed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from core.reading import Kind, age_band
from gateway.cli.compose import build_gateway
from gateway.config import parse_config
from gateway.service import Gateway
from kiosk.nik import age_on
from kiosk.privacy import generate_keypair
from kiosk.security import hash_secret
from simulators.ble.cli import demo_air, demo_device_configs
from tests.support.harness import running_central, wait_for
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.proxy import CuttableProxy

from .helpers import NIK_A, PROGRAMME_KEY, Planned, Resident, admin_hash, csrf_of

KADER_PIN = "604417"
STORED, SENT, CONFIRMED = "Tersimpan di kit", "Terkirim, menunggu pusat", "Diterima pusat"
SHOWN = (STORED, SENT, CONFIRMED, "Status pengiriman tidak tersedia")


def text_of(html: str) -> str:
    main = html[html.find("<main") :]
    return " ".join(re.sub(r"<[^>]+>", " ", main[: main.find("</main>")]).split())


def row_state(page: str, value: str) -> str | None:
    """The state shown at the end of the row holding `value` ("<time> · <summary> · <state>")."""
    states = "|".join(map(re.escape, (*SHOWN, "Status belum diketahui")))
    found = re.search(re.escape(value) + rf"[^·]* · ({states})", page)
    return found.group(1) if found else None


def own_counts(html: str) -> str:
    start = html.index('id="mine-h"')
    return text_of("<main" + html[start : html.index("</section>", start)] + "</main>")


@dataclasses.dataclass
class Kit:
    gateway: Gateway
    url: str
    resident: Resident


@asynccontextmanager
async def running_kit(tmp: Path, broker_url: str) -> AsyncIterator[Kit]:
    keys = generate_keypair()
    key_dir = tmp / "keys"
    key_dir.mkdir()
    (key_dir / "programme.key").write_text(PROGRAMME_KEY.hex())
    (key_dir / "central.pub").write_text(keys.public_key.hex())
    air = demo_air(devices=("bp",), bp_records=1)
    devices = [
        dataclasses.replace(d, options={**d.options, "poll_s": 0.2, "retry_initial_s": 0.2})
        for d in demo_device_configs(air)
    ]
    port = free_port()
    (tmp / "gw").mkdir()
    config = parse_config(
        {
            "gateway": {"id": "gw-kader", "site_id": "e2e-kader", "state_dir": str(tmp / "gw")},
            "mqtt": {
                "url": broker_url,
                "backoff_initial_s": 0.05,
                "backoff_max_s": 0.5,
                "status_interval_s": 1.0,
            },
            "kiosk": {
                "enabled": True,
                "host": "127.0.0.1",
                "port": port,
                "settings": {
                    "programme_key_file": str(key_dir / "programme.key"),
                    "central_public_key_file": str(key_dir / "central.pub"),
                    "admin_password_hash": admin_hash(),
                    "kader_pin_hashes": {"kader01": hash_secret(KADER_PIN)},
                    "puskesmas_name": "Puskesmas Karang Jati",
                    "puskesmas_address": "Jl. Mayjen Sutoyo, Balikpapan Tengah",
                    "bp_device": devices[0].name,
                    "glucose_device": None,
                },
            },
        },
        source="e2e-kader",
    )
    config = dataclasses.replace(config, devices=tuple(devices))
    resident = Resident(air)
    gateway = build_gateway(config, measurement_hook=resident, status_file_interval_s=0.5)
    task = asyncio.create_task(gateway.run(), name="gateway-under-test")
    try:
        await wait_for(lambda: gateway.ready.is_set() or task.done(), 15, "gateway ready")
        if task.done():
            task.result()
        await wait_for(lambda: gateway.devices[devices[0].name].readings_total > 0, 15, "sync")
        url = f"http://127.0.0.1:{port}"

        async def kiosk_up() -> bool:
            # "ready" is the gateway's; its kiosk server starts beside it (uvicorn is imported
            # in a thread first), so on a loaded machine the pages come a little later.
            try:
                async with httpx.AsyncClient(timeout=5) as probe:
                    await probe.get(f"{url}/kader/masuk")
            except httpx.TransportError:
                return False
            return True

        await wait_for(kiosk_up, 30, "the kiosk's pages served")
        yield Kit(gateway, url, resident)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await air.aclose()


async def page_until(
    client: httpx.AsyncClient, path: str, value: str, state: str, timeout: float = 20.0
) -> str:
    deadline = time.monotonic() + timeout
    while True:
        page = text_of((await client.get(path)).text)
        shown = row_state(page, value)
        if shown == state:
            return page
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} shows {shown!r} for {value}, not {state!r}: {page}")
        await asyncio.sleep(0.2)


async def test_a_kader_reading_goes_stored_sent_confirmed_on_the_kader_pages(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    central_db = tmp_path / "central.db"
    # Central subscribes once (a persistent session), then goes away: what the broker
    # accepts while it is away waits for it there.
    async with running_central(mosquitto.url, central_db):
        pass
    link = CuttableProxy(mosquitto.port)
    await link.start()
    try:
        await kader_walk(tmp_path, mosquitto, link, central_db)
    finally:
        await link.stop()


async def kader_walk(
    tmp_path: Path, mosquitto: Mosquitto, link: CuttableProxy, central_db: Path
) -> None:
    async with (
        running_kit(tmp_path, link.url) as kit,
        httpx.AsyncClient(base_url=kit.url, follow_redirects=True, timeout=10) as phone,
    ):
        page = await phone.get("/kader/masuk")
        data = {"kader": "kader01", "pin": KADER_PIN, "lang": "id"}
        home = await phone.post("/kader/masuk", data=data)
        assert home.url.path == "/kader", home.text
        form = await phone.get("/kader/daftar")
        data = {"nik": NIK_A, "birth_year": "1985", "label": "Pak A.", "consent": "yes"}
        page = await phone.post("/kader/daftar", data={"csrf": csrf_of(form.text), **data})
        entry = page.url.path
        assert entry.startswith("/kader/warga/"), page.text

        # 1. The kit cannot reach the broker: the reading is committed on the kit, no more.
        await link.stop()
        kit.resident.plan[Kind.BLOOD_PRESSURE].append(Planned(151, 86, 74, after_s=1.5))
        measuring = await phone.post(
            f"{entry}/ukur", data={"csrf": csrf_of(page.text), "test": "bp"}
        )
        assert measuring.url.path.startswith("/kader/ukur/"), measuring.text
        shown = await page_until(phone, entry, "151/86 mmHg", STORED)
        assert "Hipertensi derajat 1" in shown
        home = (await phone.get("/kader")).text
        assert own_counts(home).startswith(
            f"Bacaan Anda hari ini {STORED}: 1 {SENT}: 0 {CONFIRMED}: 0"
        ), own_counts(home)
        assert row_state(text_of(home), "151/86 mmHg") == STORED  # the day list, per resident

        # 2. The broker is back, central is not: the broker acknowledged it, nobody confirmed.
        await link.start()
        await page_until(phone, entry, "151/86 mmHg", SENT)
        home = (await phone.get("/kader")).text
        assert f"{STORED}: 0 {SENT}: 1 {CONFIRMED}: 0" in own_counts(home), own_counts(home)
        assert "Belum terkirim: 0" not in home  # the old kit-wide line that hid it

        # 3. Central is back: it stores the reading and its receipt confirms it on the kit.
        async with running_central(mosquitto.url, central_db) as central:
            await page_until(phone, entry, "151/86 mmHg", CONFIRMED)
            home = (await phone.get("/kader")).text
            assert own_counts(home) == (
                f"Bacaan Anda hari ini {STORED}: 0 {SENT}: 0 {CONFIRMED}: 1"
            ), own_counts(home)
            assert row_state(text_of(home), "151/86 mmHg") == CONFIRMED
            with central.store.engine.connect() as conn:
                rows = [
                    json.loads(t) for (t,) in conn.exec_driver_sql("SELECT payload FROM readings")
                ]
            stored = [
                r
                for r in rows
                if r["kind"] == "blood_pressure" and r["values"]["systolic_mmhg"] == 151
            ]
            assert len(stored) == 1 and stored[0]["subject"]["performer"] == "kader:kader01"
            # A kader-bound reading carries what the cascade counts by, like a kiosk one.
            subject = stored[0]["subject"]
            assert stored[0]["schema"] == "gempita.reading/2"
            measured = datetime.fromisoformat(stored[0]["measured_at"])
            born, kit_day = date(1985, 8, 17), measured.astimezone(ZoneInfo("Asia/Makassar")).date()
            assert (subject["region"], subject["sex"]) == ("647103", "male")  # NIK_A
            assert subject["age_band"] == age_band(age_on(born, kit_day))
