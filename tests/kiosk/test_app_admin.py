"""Operator pages: password (scrypt), rate limit, CSRF, devices, pairing, sync, settings."""

from __future__ import annotations

import httpx

from kiosk.deps import KioskSettings

from .helpers import ADMIN_PASSWORD, bp_reading, follow, make_rig, post, running


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
    assert "<td>idle</td>" in html and "timeout" in html and "<td>80</td>" in html
    assert "<th>pending</th><td>2</td>" in html and "<th>confirmed</th><td>40</td>" in html
    assert "Bacaan tanpa sesi (disimpan, tidak ditautkan): 1" in html
    assert "· bp · blood_pressure" in html
    assert "Persetujuan pemeriksaan dan penggunaan data (2026.1)" in html


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
