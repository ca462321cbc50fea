"""The gateway side of the operator page: a meter assigned from the page is read at once and
after a restart; the page's edits survive a restart. Real Gateway, real outbox, the real BLE
runner over a simulated glucose meter."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import httpx

from gateway.cli.compose import build_gateway
from gateway.config import Config, parse_config
from gateway.kiosk_host import assign_meter, kiosk_settings, save_settings, with_paired_devices
from kiosk.privacy import generate_keypair
from simulators.ble.cli import demo_air, demo_device_configs
from tests.support.harness import wait_for
from tests.support.mosquitto import free_port

from .helpers import ADMIN_PASSWORD, PROGRAMME_KEY, make_settings, post


def kiosk_config(tmp: Path) -> Config:
    keys = tmp / "keys"
    keys.mkdir()
    (keys / "programme.key").write_text(PROGRAMME_KEY.hex())
    (keys / "central.pub").write_text(generate_keypair().public_key.hex())
    return parse_config(
        {
            "gateway": {"id": "gw-kiosk", "state_dir": str(tmp / "gw")},
            "mqtt": {"url": "mqtt://127.0.0.1:9", "backoff_initial_s": 0.05},
            "kiosk": {
                "enabled": True,
                "host": "127.0.0.1",
                "port": free_port(),
                "settings": {
                    "programme_key_file": str(keys / "programme.key"),
                    "central_public_key_file": str(keys / "central.pub"),
                    "admin_password_hash": make_settings().admin_password_hash,
                    "puskesmas_name": "Puskesmas Karang Jati",
                    "puskesmas_address": "Jl. Mayjen Sutoyo",
                },
            },
        }
    )


async def test_an_assigned_meter_is_read_now_and_after_a_restart(tmp_path: Path) -> None:
    (tmp_path / "gw").mkdir()
    config = kiosk_config(tmp_path)
    air = demo_air(devices=("glucose",), glucose_records=3)
    try:
        template = demo_device_configs(air)[0]
        options = {**template.options, "poll_s": 0.2}
        gateway = build_gateway(config, maintenance_interval_s=60, status_file_interval_s=60)
        task = asyncio.create_task(gateway.run(), name="gateway")
        try:
            await wait_for(lambda: gateway.ready.is_set() or task.done(), 10, "gateway ready")
            assert gateway.devices == {}
            name = assign_meter(gateway, template.address or "", "glucose", options=options)
            assert name == "glucose-" + (template.address or "").replace(":", "").lower()
            # Asked again for the same meter: the same device, not a second one.
            assert assign_meter(gateway, template.address or "", "glucose") == name

            async def stored() -> bool:
                if task.done():
                    task.result()
                return (await gateway.outbox.counts()).pending == 3

            await wait_for(stored, 20, "the new meter's 3 records stored")
            assert gateway.devices[name].readings_stored == 3
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await air.aclose()
    # After a restart the meter is configured again (options such as the simulated backend
    # are not kept: a real meter needs none).
    again = with_paired_devices(config)
    added = [d for d in again.devices if d.name == name]
    assert len(added) == 1 and added[0].kind == "glucose" and added[0].transport == "ble"
    assert added[0].address == (template.address or "").upper()
    assert with_paired_devices(again) == again


def test_operator_edits_survive_a_restart(tmp_path: Path) -> None:
    (tmp_path / "gw").mkdir()
    config = kiosk_config(tmp_path)
    first = kiosk_settings(config)
    assert first.glucose_device == "glucose"
    edited = dataclasses.replace(
        first, glucose_device="glucose-607771640001", site_name="Kios Gunung Sari",
        idle_timeout_s=120.0,
    )
    save_settings(config, edited)
    saved = (tmp_path / "gw" / "kiosk-settings.json").read_text(encoding="utf-8")
    assert "admin_password_hash" not in saved and "programme_key" not in saved
    again = kiosk_settings(config)
    assert again.glucose_device == "glucose-607771640001"
    assert (again.site_name, again.idle_timeout_s) == ("Kios Gunung Sari", 120.0)
    assert again.admin_password_hash == first.admin_password_hash


async def test_the_gateway_serves_broker_state_and_pairing_on_its_operator_page(
    tmp_path: Path,
) -> None:
    (tmp_path / "gw").mkdir()
    air = demo_air(devices=("glucose",), glucose_records=1)
    try:
        meter = demo_device_configs(air)[0]
        config = dataclasses.replace(kiosk_config(tmp_path), devices=(meter,))
        gateway = build_gateway(config, maintenance_interval_s=60, status_file_interval_s=60)
        task = asyncio.create_task(gateway.run(), name="gateway")
        try:
            await wait_for(lambda: gateway.ready.is_set() or task.done(), 10, "gateway ready")
            url = f"http://127.0.0.1:{config.kiosk.port}"

            async def serving() -> bool:
                try:
                    async with httpx.AsyncClient() as probe:
                        return (await probe.get(url + "/admin/masuk")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(serving, 10, "kiosk HTTP up")
            # One scan listens for 8 s (BlePairing.scan_s): longer than httpx's default.
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                page = await post(client, "/admin/masuk", {"password": ADMIN_PASSWORD})
                # No broker at mqtt://127.0.0.1:9: the page says so, in words.
                assert "Terputus" in page.text and "Connection refused" in page.text
                page = await client.get("/admin/pasang")
                page = await post(client, "/admin/pasang/cari", {}, page.text)
            # The demo's simulated air, not BlueZ: the configured meter is found.
            assert meter.address and meter.address in page.text
            assert "Bluetooth tidak tersedia" not in page.text
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await air.aclose()


def test_a_damaged_paired_devices_file_is_named_not_a_crash(tmp_path: Path) -> None:
    import json

    import pytest

    from gateway.errors import ConfigError

    (tmp_path / "gw").mkdir()
    config = kiosk_config(tmp_path)
    paired = tmp_path / "gw" / "paired-devices.json"
    paired.write_text(json.dumps([{"name": "bp-1", "kind": "blood_pressure"}]))  # no address
    with pytest.raises(ConfigError, match=r"paired-devices\.json: entry 0 needs"):
        with_paired_devices(config)
