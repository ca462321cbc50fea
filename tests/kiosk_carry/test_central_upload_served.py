"""The real `gempita central` serves POST /api/bundles on its web app when [bundles] names its
keys: a phone's upload needs no staff session or CSRF token (the bundle is its credential)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest

from central.store import CentralStore
from core.bundle import decode_bundle_receipt
from tests.bundle.keys import Keys, make_keys
from tests.kiosk_carry.test_upload_router import KIT, bundle
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.processes import GempitaProcess

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("pki"))


async def test_gempita_central_takes_a_phone_upload(
    tmp_path: Path, mosquitto: Mosquitto, pki: Keys, central_db_url: str
) -> None:
    for name in ("ca.crt", "central.crt", "central.key"):
        shutil.copy(pki.directory / name, tmp_path / name)
    shutil.copy(pki.x25519_key_file, tmp_path / "central.x25519")
    port = free_port()
    config = tmp_path / "central.toml"
    config.write_text(
        f'[broker]\nurl = "{mosquitto.url}"\n[database]\nurl = "{central_db_url}"\n'
        f'[web]\nlisten = "127.0.0.1:{port}"\nupload_origins = ["{KIT}"]\n'
        '[bundles]\nca_file = "ca.crt"\ncert_file = "central.crt"\nkey_file = "central.key"\n'
        'x25519_key_file = "central.x25519"\n'
    )
    central = GempitaProcess(["central", "--config", str(config)], tmp_path / "central.log")
    central.start()
    data, ids = bundle(pki, range(3))
    try:
        await asyncio.to_thread(central.wait_for_log, "web app on")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            answer = await client.post(
                "/api/bundles",
                content=data,
                headers={"Origin": KIT, "Content-Type": "application/octet-stream"},
            )
            assert answer.status_code == 200, answer.text
            assert answer.headers["access-control-allow-origin"] == KIT
            receipt = decode_bundle_receipt(
                answer.content, trust=pki.trust, gateway_id="gw-001", now=pki.now
            )
            assert set(receipt.ids) == set(ids)
            # A staff POST still needs its session and CSRF token.
            staff = await client.post("/logout", data={})
            assert staff.status_code == 403
            garbage = await client.post("/api/bundles", content=b"not a bundle")
            assert garbage.status_code == 400
    finally:
        assert central.stop() == 0, central.text()

    def stored() -> set[str]:
        store = CentralStore(central_db_url)
        try:
            return store.ids()
        finally:
            store.close()

    assert await asyncio.to_thread(stored) == set(ids)
