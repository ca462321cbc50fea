"""Pairing a meter from the operator page: scan, pick, pair (passkey), assign to the kiosk.

The page drives the gateway's real `BlePairing` (drivers/ble scan and bond) over the simulated
Bluetooth backend, over a fake bluetoothd on a private D-Bus (the passkey then travels through
the real BlueZ pairing agent), and over the real default backend on this machine, which has
no system D-Bus: the page must then say that Bluetooth is missing, in words.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from drivers.ble.link import ConnectPolicy
from gateway.kiosk_host import BlePairing
from kiosk.deps import KioskSettings
from simulators.ble.backend import Air
from simulators.ble.devices import AccuChekMeter, BpMonitor, DeviceClock
from tests.ble_agent.fake_bluez import FakeBluez, private_bus
from tests.ble_agent.test_pair_with_agent import bluez_like_backend

from .helpers import ADMIN_PASSWORD, Rig, make_rig, post, running

FAST = ConnectPolicy(scan_timeout_s=1.0, attempts=1, backoff_s=0.0, attempt_timeout_s=5.0)


def meter_clock() -> DeviceClock:
    return DeviceClock(lambda: datetime(2026, 11, 27, 2, 0, tzinfo=UTC))


@pytest.fixture
async def air() -> AsyncIterator[Air]:
    the_air = Air(advertise_interval_s=0.01)
    yield the_air
    await the_air.aclose()


@pytest.fixture
def bus_address(tmp_path: Path) -> Iterator[str]:
    with private_bus(tmp_path) as address:
        yield address


class Assigned:
    """What the gateway's assign step is asked (the real one is tested with a Gateway)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, address: str, kind: str, _name: str | None) -> str:
        self.calls.append((address, kind))
        return f"{kind}-new"


def pairing_rig(pairing: BlePairing) -> tuple[Rig, list[KioskSettings]]:
    rig = make_rig()
    saved: list[KioskSettings] = []
    rig.deps.pairing = pairing
    rig.deps.on_settings_changed = saved.append
    return rig, saved


async def open_pair_page(client: httpx.AsyncClient) -> httpx.Response:
    dashboard = await post(client, "/admin/masuk", {"password": ADMIN_PASSWORD})
    assert 'href="/admin/pasang"' in dashboard.text
    assert "gempita devices scan" not in dashboard.text
    page = await client.get("/admin/pasang")
    assert "Cari alat (1 detik)" in page.text
    return page


def radio_values(html: str) -> list[str]:
    return re.findall(r'name="address" value="([^"]+)"', html)


async def test_scan_pick_pair_with_passkey_and_assign(air: Air) -> None:
    meter = air.add(AccuChekMeter(clock=meter_clock()))
    meter.rssi = -50
    air.add(BpMonitor(clock=meter_clock())).rssi = -70
    assigned = Assigned()
    pairing = BlePairing(
        assigned,
        scan_s=1.0,
        scanner_backend=air.scanner_backend(),
        client_backend=air.client_backend(),
        policy=FAST,
    )
    rig, saved = pairing_rig(pairing)
    async with running(rig) as client:
        page = await open_pair_page(client)
        page = await post(client, "/admin/pasang/cari", {}, page.text)
        assert "Alat yang terlihat" in page.text
        assert "meter+06412345 · Gula darah" in page.text
        assert "BLESmart_0000011E · Tekanan darah" in page.text
        assert radio_values(page.text)[0] == meter.address  # strongest signal first
        wrong = await post(
            client, "/admin/pasang/sambung", {"address": meter.address, "passkey": "12 34x"},
            page.text,
        )
        assert "PIN harus berupa angka" in wrong.text and not meter.bonded
        page = await post(
            client, "/admin/pasang/sambung", {"address": meter.address, "passkey": "123456"},
            wrong.text,
        )
        assert meter.bonded
        assert "Terpasang: meter+06412345" in page.text
        assert re.search(r'value="glucose" checked', page.text)  # its advertised profile
        page = await post(
            client, "/admin/pasang/tetapkan", {"address": meter.address, "kind": "glucose"},
            page.text,
        )
        assert "meter+06412345 sekarang dipakai kios untuk Gula darah." in page.text
    assert assigned.calls == [(meter.address, "glucose")]
    assert [s.glucose_device for s in saved] == ["glucose-new"]
    assert rig.app.state.kiosk.settings.glucose_device == "glucose-new"
    assert rig.app.state.kiosk.settings.bp_device == "bp"  # untouched


async def test_wrong_passkey_is_explained_and_nothing_is_assigned(air: Air) -> None:
    meter = air.add(AccuChekMeter(clock=meter_clock()))
    assigned = Assigned()
    pairing = BlePairing(
        assigned,
        scan_s=1.0,
        scanner_backend=air.scanner_backend(),
        client_backend=air.client_backend(),
        policy=FAST,
    )
    rig, saved = pairing_rig(pairing)
    async with running(rig) as client:
        page = await open_pair_page(client)
        page = await post(client, "/admin/pasang/cari", {}, page.text)
        page = await post(
            client, "/admin/pasang/sambung", {"address": meter.address, "passkey": "654321"},
            page.text,
        )
        assert "Alat menolak pemasangan" in page.text and "Rincian teknis" in page.text
        assert "/admin/pasang/tetapkan" not in page.text
        forged = await post(
            client, "/admin/pasang/tetapkan", {"address": meter.address, "kind": "glucose"},
            page.text,
        )
        assert "Pilih satu alat dari daftar." in forged.text
    assert not meter.bonded and assigned.calls == [] and saved == []


async def test_passkey_reaches_the_meter_through_the_bluez_agent(
    air: Air, bus_address: str
) -> None:
    bluez = await FakeBluez(bus_address).start()
    try:
        meter = air.add(AccuChekMeter(clock=meter_clock()))
        pairing = BlePairing(
            Assigned(),
            scan_s=1.0,
            scanner_backend=air.scanner_backend(),
            client_backend=bluez_like_backend(air, bluez),
            bus_address=bus_address,
            policy=FAST,
        )
        rig, _ = pairing_rig(pairing)
        async with running(rig) as client:
            page = await open_pair_page(client)
            page = await post(client, "/admin/pasang/cari", {}, page.text)
            page = await post(
                client, "/admin/pasang/sambung", {"address": meter.address, "passkey": "123456"},
                page.text,
            )
        assert "Terpasang: meter+06412345" in page.text and meter.bonded
        members = [call.member for call in bluez.calls]
        assert members == ["RegisterAgent", "RequestDefaultAgent", "UnregisterAgent"]
    finally:
        await bluez.stop()


async def test_dbus_without_bluetoothd_is_named(air: Air, bus_address: str) -> None:
    meter = air.add(AccuChekMeter(clock=meter_clock()))
    pairing = BlePairing(
        Assigned(),
        scan_s=1.0,
        scanner_backend=air.scanner_backend(),
        client_backend=bluez_like_backend(air, FakeBluez(bus_address)),
        bus_address=bus_address,  # a bus, but nobody owns org.bluez on it
        policy=FAST,
    )
    rig, _ = pairing_rig(pairing)
    async with running(rig) as client:
        page = await open_pair_page(client)
        page = await post(client, "/admin/pasang/cari", {}, page.text)
        page = await post(
            client, "/admin/pasang/sambung", {"address": meter.address, "passkey": "123456"},
            page.text,
        )
    assert "BlueZ (bluetoothd) tidak berjalan" in page.text
    assert "systemctl start bluetooth" in page.text and not meter.bonded


async def test_no_bluetooth_on_this_machine_is_said_in_words() -> None:
    # The real default backend: this machine has no system D-Bus (bleak: FileNotFoundError).
    assert not Path("/run/dbus/system_bus_socket").exists()
    rig, _ = pairing_rig(BlePairing(Assigned(), scan_s=1.0))
    async with running(rig) as client:
        page = await open_pair_page(client)
        page = await post(client, "/admin/pasang/cari", {}, page.text)
    assert "Bluetooth tidak tersedia: layanan D-Bus sistem tidak berjalan" in page.text
    assert "No such file or directory" in page.text  # the technical detail, folded away


async def test_pairing_steps_need_the_csrf_token(air: Air) -> None:
    rig, _ = pairing_rig(
        BlePairing(Assigned(), scan_s=1.0, scanner_backend=air.scanner_backend())
    )
    async with running(rig) as client:
        await open_pair_page(client)
        forged = await client.post("/admin/pasang/cari", data={"csrf": "nope"})
        assert forged.headers["location"] == "/admin/masuk"
