"""kiosk/routes_carry.py over the real gateway side (BundleCarry: a real outbox file, real
`gempita pki` keys): who may take bundles and hand receipts back, and what each answer says."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
from pathlib import Path

import httpx
import pytest

from central.bundle_import import CentralKeys, import_bundle
from central.store import CentralStore
from gateway.cli.compose import load_config
from gateway.kiosk_host import BundleCarry
from tests.bundle.cli import fill, states, write_config
from tests.bundle.keys import Keys, make_keys
from tests.kiosk.helpers import Rig, make_rig, running
from tests.kiosk.test_kader_sync import login

CENTRAL = "https://pusat.example/api/bundles"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def kit(tmp_path: Path, pki: Keys) -> tuple[Rig, Path, list[str]]:
    config = write_config(tmp_path / "kit", pki)
    ids = fill(config, range(4))
    rig = make_rig(central_upload_url=CENTRAL)
    rig.deps.carry = BundleCarry(load_config(str(config)), pki.x25519_public)
    return rig, config, ids


async def csrf(client: httpx.AsyncClient, gateway_id: str = "gw-001") -> str:
    session = (await client.get("/kader/bawa/sesi")).json()
    assert session["kader"] is True and session["gateway_id"] == gateway_id
    return str(session["csrf"])


async def test_bundles_only_for_a_signed_in_kader_with_the_token(
    kit: tuple[Rig, Path, list[str]],
) -> None:
    rig, _config, ids = kit
    async with running(rig) as client:
        refused = await client.post("/kader/bawa/ambil")
        assert refused.status_code == 403
        assert refused.json()["message"] == "Masuk sebagai kader di Wi-Fi kit dulu."
        await login(client)
        token = await csrf(client)
        assert (await client.post("/kader/bawa/ambil")).status_code == 403  # no token
        wrong = await client.post("/kader/bawa/ambil", headers={"x-gempita-csrf": "x" + token})
        assert wrong.status_code == 403
        taken = await client.post("/kader/bawa/ambil", headers={"x-gempita-csrf": token})
        assert taken.status_code == 200
        body = taken.json()
        assert body["central_url"] == CENTRAL and body["gateway_id"] == "gw-001"
        (bundle,) = body["bundles"]
        data = base64.b64decode(bundle["data"])
        assert bundle["count"] == len(ids)
        assert bundle["sha256"] == hashlib.sha256(data).hexdigest()
        assert data.startswith(b"GEMPITA-BUNDLE/1\n")


async def test_a_receipt_from_central_confirms_and_a_bad_one_says_why(
    kit: tuple[Rig, Path, list[str]], pki: Keys, tmp_path: Path
) -> None:
    rig, config, ids = kit
    async with running(rig) as client:
        await login(client)
        token = await csrf(client)
        taken = await client.post("/kader/bawa/ambil", headers={"x-gempita-csrf": token})
        data = base64.b64decode(taken.json()["bundles"][0]["data"])

        bad = await client.post(
            "/kader/bawa/kwitansi", content=b"not a receipt", headers={"x-gempita-csrf": token}
        )
        assert bad.status_code == 400
        assert bad.json()["message"].startswith("Bukti terima ditolak kit")
        assert "not a Gempita receipt" in bad.json()["detail"]

        def at_central() -> bytes:
            store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
            try:
                keys = CentralKeys(pki.x25519_private, pki.trust, pki.central)
                return import_bundle(store, data, keys, now=dt.datetime.now(dt.UTC)).receipt
            finally:
                store.close()

        receipt = await asyncio.to_thread(at_central)
        done = await client.post(
            "/kader/bawa/kwitansi", content=receipt, headers={"x-gempita-csrf": token}
        )
        assert done.status_code == 200, done.text
        assert done.json()["confirmed"] == len(ids)
        again = await client.post(
            "/kader/bawa/kwitansi", content=receipt, headers={"x-gempita-csrf": token}
        )
        assert (again.json()["confirmed"], again.json()["already"]) == (0, len(ids))
    assert set((await asyncio.to_thread(states, config, ids)).values()) == {"confirmed"}


async def test_the_carry_pages_policy_admits_central_and_the_others_do_not() -> None:
    rig = make_rig(central_upload_url=CENTRAL)
    async with running(rig) as client:
        carry = (await client.get("/kader/bawa/")).headers["content-security-policy"]
        assert "connect-src 'self' https://pusat.example;" in carry
        assert "worker-src 'self'" in carry and "script-src 'self' 'unsafe-inline'" in carry
        worker = await client.get("/kader/bawa/sw.js")
        assert worker.headers["content-type"].startswith("text/javascript")
        assert "https://pusat.example" in worker.headers["content-security-policy"]
        other = (await client.get("/kader/masuk")).headers["content-security-policy"]
        assert "pusat.example" not in other and "script-src 'unsafe-inline';" in other


async def test_the_kader_home_offers_the_carry_only_when_central_is_set() -> None:
    for url, shown in ((CENTRAL, True), ("", False)):
        rig = make_rig(central_upload_url=url)
        async with running(rig) as client:
            await login(client)
            home = (await client.get("/kader")).text
            assert ('href="/kader/bawa/"' in home) is shown
            if not url:
                token = await csrf(client, rig.deps.settings.kiosk_id)
                off = await client.post("/kader/bawa/ambil", headers={"x-gempita-csrf": token})
                assert off.status_code == 503
                assert "belum diatur" in off.json()["message"]


async def test_the_carry_page_speaks_the_kaders_language() -> None:
    rig = make_rig(central_upload_url=CENTRAL)
    async with running(rig) as client:
        indonesian = (await client.get("/kader/bawa/")).text
        assert "Bawa data ke pusat" in indonesian and "Kirim sekarang" in indonesian
        english = (await client.get("/kader/bawa/?lang=en")).text
        assert "Carry data to central" in english and "Send now" in english
        assert '"carry_state_delivered": "Delivered"' in english  # the script's texts too
