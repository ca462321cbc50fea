"""Operator pages: password (scrypt), rate limit, CSRF, devices, pairing, sync, settings."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from kiosk.deps import KioskSettings

from .helpers import (
    ADMIN_PASSWORD,
    Rig,
    bp_reading,
    follow,
    glucose_reading,
    make_rig,
    post,
    running,
)


async def admin_login(client: httpx.AsyncClient, password: str = ADMIN_PASSWORD) -> httpx.Response:
    return await post(client, "/admin/masuk", {"password": password})


async def test_login_is_required_and_wrong_passwords_lock_out() -> None:
    rig = make_rig(login_max_failures=2, login_lockout_s=60)
    async with running(rig) as client:
        assert (await client.get("/admin")).headers["location"] == "/admin/masuk"
        assert "ID atau sandi salah" in (await admin_login(client, "salah")).text
        await admin_login(client, "salah lagi")
        assert "Terlalu banyak percobaan" in (await admin_login(client)).text
        rig.clock.advance(61)
        page = await admin_login(client)
        assert page.url.path == "/admin"


async def test_dashboard_shows_devices_sync_unbound_and_consent() -> None:
    rig = make_rig()
    async with running(rig) as client:
        await rig.deliver("bp", bp_reading(rig.clock.now, 120, 80))  # nobody waiting
        page = await admin_login(client)
    html = page.text
    assert "<td>Siaga</td>" in html and "timeout" in html and "<td>80</td>" in html
    assert "<th>Menunggu dikirim</th><td>2</td>" in html
    assert "<th>Dikonfirmasi pusat (disimpan di kios)</th><td>40</td>" in html
    assert "Bacaan tanpa sesi (disimpan, tidak ditautkan): 1" in html
    assert "27-11-2026 10:00 WITA · bp · Tekanan darah" in html
    assert "Persetujuan pemeriksaan dan penggunaan data (2026.1)" in html


RAW = re.compile(r"oldest_pending_age_s|last_error|\bNone\b|\d{2}:\d{2}:\d{2}\.\d+|T\d{2}:\d{2}")


def _status_rig(**overrides: Any) -> tuple[Rig, dict[str, object]]:
    rig = make_rig(**overrides)
    now = rig.clock.now  # 27-11-2026 10:00 WITA
    rig.sync = {
        "pending": 2,
        "published": 1,
        "confirmed": 4021,
        "refused": 0,
        "unconfirmed": 3,
        "max_readings": 500000,
        "oldest_pending_age_s": 185.4,
        "last_error": None,
    }
    rig.deps.device_status = lambda: [
        {
            "name": "bp",
            "transport": "ble",
            "kind": "blood_pressure",
            "state": "idle",
            "last_seen": (now - timedelta(seconds=130)).isoformat(),  # microseconds-capable
            "last_reading_at": None,
            "battery_pct": 80,
            "readings_total": 4715,
            "readings_stored": 130,
            "records_resent": 4585,
            "last_error": None,
            "failures": 0,
        },
        {
            "name": "glucose",
            "transport": "ble",
            "kind": "glucose",
            "state": "unavailable",
            "last_seen": None,
            "battery_pct": None,
            "readings_stored": 0,
            "records_resent": 0,
            "last_error": "DeviceUnavailableError: Bluetooth is not available on this machine",
        },
    ]
    broker: dict[str, object] = {
        "connected": False,
        "broker": "mqtts://central.example:8883",
        "connected_since": None,
        "last_publish_at": (now - timedelta(minutes=7)).timestamp(),
        "last_error": "cannot reach broker: [Errno 111] Connection refused",
        "last_error_at": (now - timedelta(minutes=1)).timestamp(),
        "alarms": ["outbox_full"],
    }
    rig.deps.broker_state = lambda: broker
    return rig, broker


async def test_dashboard_speaks_the_operators_language_and_time_zone() -> None:
    rig, broker = _status_rig()
    async with running(rig) as client:
        page = await admin_login(client)
        html = page.text
        assert not RAW.findall(html), RAW.findall(html)
        # Broker: disconnected, in words, with its last error and when.
        assert "Terputus" in html and "Connection refused" in html
        assert "27-11-2026 09:59 WITA" in html  # last error, site time
        assert "Terakhir mengirim" in html and "27-11-2026 09:53 WITA" in html
        assert "Outbox penuh" in html
        # Outbox counts labelled; the age human; absent values left out.
        assert "<th>Menunggu dikirim</th><td>2</td>" in html
        assert "<th>Terkirim, menunggu konfirmasi pusat</th><td>1</td>" in html
        assert "<td>4.021</td>" in html
        assert "<th>Terlama belum dikirim</th><td>3 mnt</td>" in html
        assert "3 / 500.000" in html
        # Devices: what was stored, what was only re-sent; states and kinds in words.
        assert "130 tersimpan" in html and "4715" not in html
        assert "4585 kiriman ulang dari memori alat" in html
        assert "27-11-2026 09:57 WITA" in html and "2 mnt lalu" in html
        assert "Tidak tersedia" in html and "Dipakai kios: Tekanan darah" in html
        broker.update(connected=True, last_error=None, alarms=[])
        broker["connected_since"] = (rig.clock.now - timedelta(hours=2, minutes=5)).timestamp()
        html = (await client.get("/admin")).text
        assert "Tersambung" in html and "sejak 27-11-2026 07:55 WITA (2 jam 5 mnt)" in html
        assert "Outbox penuh" not in html and "Connection refused" not in html


async def test_dashboard_in_english() -> None:
    rig, _ = _status_rig(languages=("en", "id"))
    async with running(rig) as client:
        html = (await admin_login(client)).text
    assert not RAW.findall(html)
    assert "Disconnected" in html and "Waiting to be sent" in html and "3 min" in html
    assert "130 stored" in html and "Unavailable" in html and "2 min ago" in html


async def test_unbound_readings_are_summarised_and_paged() -> None:
    rig = make_rig()
    async with running(rig) as client:
        # 63 readings nobody waited for, one every 24 s: 25 minutes of a busy kiosk.
        for n in range(63):
            device = "bp" if n % 3 else "glucose"
            reading = (
                bp_reading(rig.clock.now, 120 + n, 80)
                if device == "bp"
                else glucose_reading(rig.clock.now, 100 + n, seq=n)
            )
            await rig.deliver(device, reading)
            rig.clock.advance(24)
        page = await admin_login(client)
        html = page.text
        assert "Bacaan tanpa sesi (disimpan, tidak ditautkan): 63" in html
        # The board keeps the latest 50: 13 * 24 s after 10:00 is the oldest kept.
        assert "Terlama 27-11-2026 10:05 WITA, terbaru 27-11-2026 10:24 WITA" in html
        assert "Daftar menampilkan 50 terbaru." in html
        # Per device, over the notes listed (n = 13..62; every third one is glucose).
        assert "bp: 34 · glucose: 16" in html
        assert html.count('<li class="unbound">') == 10
        assert "Halaman 1 dari 5" in html and "?hal=2" in html
        assert "10:24 WITA · bp" in html and "10:05 WITA" in html
        last = (await client.get("/admin?hal=5")).text
        assert last.count('<li class="unbound">') == 10 and "Halaman 5 dari 5" in last
        assert "27-11-2026 10:05 WITA · bp" in last
        assert "27-11-2026 10:24 WITA · bp" not in last
        beyond = (await client.get("/admin?hal=99")).text
        assert "Halaman 5 dari 5" in beyond


async def test_pairing_calls_the_injected_callable_with_csrf_only() -> None:
    rig = make_rig()
    async with running(rig) as client:
        page = await admin_login(client)
        forged = await client.post("/admin/pasang", data={"csrf": "nope"})
        assert forged.headers["location"] == "/admin/masuk"
        assert rig.paired == []
        page = await post(client, "/admin/pasang", {}, page.text)
        assert rig.paired == ["x"]
        assert "Pemasangan: scanning 30 s" in page.text


async def test_settings_are_validated_saved_and_reported() -> None:
    saved: list[KioskSettings] = []
    rig = make_rig()
    rig.deps.on_settings_changed = saved.append
    form = {
        "site_name": "Kios Gunung Sari",
        "puskesmas_name": "Puskesmas Gunung Sari Ilir",
        "puskesmas_address": "Jl. Mulawarman",
        "puskesmas_phone": "",
        "idle_timeout_s": "120",
        "measurement_timeout_s": "240",
        "consent_version": "2026.1",
    }
    async with running(rig) as client:
        page = await admin_login(client)
        bad = await post(client, "/admin/pengaturan", {**form, "idle_timeout_s": "5"}, page.text)
        assert "Pengaturan tidak disimpan" in bad.text and saved == []
        bad = await post(client, "/admin/pengaturan", {**form, "consent_version": "x"}, bad.text)
        assert saved == []
        forged = await client.post("/admin/pengaturan", data=form)
        assert forged.headers["location"] == "/admin/masuk" and saved == []
        page = await post(client, "/admin/pengaturan", form, bad.text)
        assert "Pengaturan disimpan" in page.text
        welcome = await client.get("/")
    assert "Kios Gunung Sari" in welcome.text
    assert len(saved) == 1
    assert saved[0].puskesmas_name == "Puskesmas Gunung Sari Ilir"
    assert saved[0].puskesmas_phone is None
    assert (saved[0].idle_timeout_s, saved[0].measurement_timeout_s) == (120.0, 240.0)
    assert rig.app.state.kiosk.settings == saved[0]


async def test_logout() -> None:
    rig = make_rig()
    async with running(rig) as client:
        page = await admin_login(client)
        page = await post(client, "/admin/keluar", {}, page.text)
        assert "Anda sudah keluar" in page.text
        assert (await client.get("/admin")).headers["location"] == "/admin/masuk"
        assert (await follow(client, await client.get("/admin"))).url.path == "/admin/masuk"


async def test_dashboard_survives_failing_status_callables() -> None:
    rig = make_rig()

    def broken() -> list[dict[str, object]]:
        raise OSError("bluetoothd gone")

    rig.deps.device_status = broken
    rig.deps.sync_state = _raise
    async with running(rig) as client:
        page = await admin_login(client)
    assert page.status_code == 200
    assert (
        "Tidak ada alat terdaftar" in page.text and "Status pengiriman tidak tersedia" in page.text
    )


def _raise() -> dict[str, object]:
    raise ConnectionError("outbox busy")
