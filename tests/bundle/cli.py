"""A gateway outbox and the real `gempita` commands, for the USB bundle tests."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from central.store import CentralStore
from gateway.outbox import reading_row
from gateway.outbox_store import OutboxStore, Row, StoreRequest
from tests.bundle.keys import Keys
from tests.support.harness import make_reading
from tests.support.processes import ROOT


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def gempita(*args: str | Path) -> Run:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def write_config(directory: Path, keys: Keys, *, gateway_id: str = "gw-001") -> Path:
    """A gateway config as a kit has it: its pki files, central's public key, no broker."""
    state = directory / "state"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gateway.toml"
    path.write_text(
        f'[gateway]\nid = "{gateway_id}"\nstate_dir = "{state}"\n'
        '[mqtt]\nurl = "mqtt://127.0.0.1:1"\n'
        f'ca_file = "{keys.directory / "ca.crt"}"\n'
        f'cert_file = "{keys.directory / f"{gateway_id}.crt"}"\n'
        f'key_file = "{keys.directory / f"{gateway_id}.key"}"\n'
        f'[kiosk.settings]\ncentral_public_key_file = "{keys.x25519_pub_file}"\n'
    )
    return path


def outbox_path(config: Path) -> Path:
    return config.parent / "state" / "outbox.db"


def fill(config: Path, numbers: range, *, gateway_id: str = "gw-001") -> list[str]:
    rows = [reading_row(make_reading(n, gateway_id=gateway_id)) for n in numbers]
    return store_rows(config, rows)


def store_rows(config: Path, rows: list[Row]) -> list[str]:
    store = OutboxStore(outbox_path(config))
    store.open()
    try:
        (outcome,) = store.store([StoreRequest(rows, None)])
        assert outcome.stored == len(rows)
    finally:
        store.close()
    return [r.id for r in rows]


def states(config: Path, ids: list[str]) -> dict[str, str]:
    store = OutboxStore(outbox_path(config), exclusive=False)
    store.open()
    try:
        return store.states(ids)
    finally:
        store.close()


def central_args(keys: Keys, db: str) -> list[str | Path]:
    return [
        "--db",
        db,
        "--x25519-key",
        keys.x25519_key_file,
        "--ca-file",
        keys.directory / "ca.crt",
        "--cert",
        keys.directory / "central.crt",
        "--key",
        keys.directory / "central.key",
    ]


def central_ids(db: str) -> set[str]:
    store = CentralStore(db)
    try:
        return store.ids()
    finally:
        store.close()


def central_dead_letters(db: str) -> list[tuple[str, str]]:
    store = CentralStore(db)
    try:
        return store.dead_letter_reasons()
    finally:
        store.close()
