"""central/bundle_upload.py: what a phone's upload gets back, against a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from central.bundle_import import CentralKeys
from central.bundle_upload import PATH, make_router
from central.store import CentralStore
from core.bundle import decode_bundle_receipt, encode_bundle
from gateway.outbox import reading_row
from tests.bundle.keys import Keys, make_keys
from tests.support.harness import make_reading

KIT = "http://kit.test"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CentralStore]:
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    yield store
    store.close()


def client(store: CentralStore, pki: Keys, **options: int) -> httpx.AsyncClient:
    keys = CentralKeys(x25519_private=pki.x25519_private, trust=pki.trust, signer=pki.central)
    app = FastAPI()
    app.include_router(make_router(store, keys, lambda: pki.now, allowed_origins=[KIT], **options))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://central.test")


def bundle(pki: Keys, numbers: range) -> tuple[bytes, list[str]]:
    rows = [reading_row(make_reading(n)) for n in numbers]
    data = encode_bundle(
        [r.payload for r in rows],
        first_seq=1,
        last_seq=len(rows),
        created_at=pki.now,
        export_id="x1",
        signer=pki.gateway,
        recipient_public_key=pki.x25519_public,
    )
    return data, [r.id for r in rows]


async def test_a_good_bundle_is_stored_once_and_answered_with_its_receipt(
    store: CentralStore, pki: Keys
) -> None:
    data, ids = bundle(pki, range(5))
    http = client(store, pki)
    first = await http.post(PATH, content=data, headers={"origin": KIT})
    assert first.status_code == 200, first.text
    assert first.headers["access-control-allow-origin"] == KIT
    receipt = decode_bundle_receipt(
        first.content, trust=pki.trust, gateway_id="gw-001", now=pki.now
    )
    assert sorted(receipt.ids) == sorted(ids)
    assert (first.headers["x-gempita-readings"], first.headers["x-gempita-stored"]) == ("5", "5")
    again = await http.post(PATH, content=data, headers={"origin": KIT})
    assert again.status_code == 200
    assert again.headers["x-gempita-stored"] == "0"
    assert sorted(
        decode_bundle_receipt(again.content, trust=pki.trust, gateway_id="gw-001", now=pki.now).ids
    ) == sorted(ids)
    assert store.count() == 5


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda b: b[:-10], "truncated"),
        (lambda b: b[:60] + bytes([b[60] ^ 1]) + b[61:], "does not decrypt"),
        (lambda _b: b"hello", "not a Gempita bundle"),
        (lambda _b: b"", "empty upload"),
    ],
)
async def test_a_bad_bundle_is_400_with_its_reason_and_stores_nothing(
    store: CentralStore, pki: Keys, damage: object, said: str
) -> None:
    data, _ids = bundle(pki, range(3))
    assert callable(damage)
    answer = await client(store, pki).post(PATH, content=damage(data), headers={"origin": KIT})
    assert answer.status_code == 400
    assert said in answer.json()["error"]
    assert answer.headers["access-control-allow-origin"] == KIT  # the page can read why
    assert store.count() == 0


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("stranger"))


async def test_a_bundle_for_another_central_is_refused(
    store: CentralStore, pki: Keys, stranger: Keys
) -> None:
    data, _ids = bundle(stranger, range(2))
    answer = await client(store, pki).post(PATH, content=data)
    assert answer.status_code == 400
    assert "another central key" in answer.json()["error"]
    assert store.count() == 0


async def test_an_oversized_upload_is_413_before_import(store: CentralStore, pki: Keys) -> None:
    data, _ids = bundle(pki, range(3))
    answer = await client(store, pki, max_bytes=len(data) - 1).post(PATH, content=data)
    assert answer.status_code == 413
    assert "smaller chunks" in answer.json()["error"]
    assert store.count() == 0


async def test_cors_only_for_the_kits_origin(store: CentralStore, pki: Keys) -> None:
    http = client(store, pki)
    ok = await http.options(PATH, headers={"origin": KIT, "access-control-request-method": "POST"})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == KIT
    assert "credentials" not in " ".join(ok.headers.keys())
    other = await http.options(PATH, headers={"origin": "http://evil.test"})
    assert "access-control-allow-origin" not in other.headers
