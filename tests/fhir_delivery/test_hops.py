"""A reading's receipt at every hop central sees, and `gempita central status` showing it."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.delivery_store import DeliveryState, DeliveryStore
from central.hops import hop_counts, reading_hops
from central.store import CentralStore
from core.reading import Kind
from gateway.cli.central.status import add_arguments, cmd_central_status
from tests.fhir_delivery.entries import Entries
from tests.fhir_delivery.helpers import NIK, incoming, worker
from tests.support.fhir_server import FhirTestServer


@pytest.fixture
def store(central_db_url: str) -> Iterator[CentralStore]:
    s = CentralStore(central_db_url)
    try:
        yield s
    finally:
        s.close()


def status(url: str, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--db", url, *extra])


def deliver(server: FhirTestServer, store: CentralStore, entries: Entries) -> None:
    async def once() -> None:
        w = worker(server, store, entries)
        try:
            await w.deliver_once()
        finally:
            await w.stop()

    asyncio.run(once())


def test_each_reading_shows_where_it_is(
    store: CentralStore, fhir_server: FhirTestServer, central_db_url: str
) -> None:
    good, bad, waiting = incoming(1), incoming(2), incoming(4)
    control = incoming(3, kind=Kind.GLUCOSE, control=True)
    store.store([good, bad, control])
    store.dead_letter("gempita/v1/gw-001/readings", b"{", "not JSON")
    entries = Entries()
    entries.bad[bad.id] = NIK
    deliver(fhir_server, store, entries)
    store.store([waiting])

    accepted = reading_hops(store.engine, good.id)
    assert accepted is not None
    assert accepted.fhir_state is DeliveryState.ACCEPTED
    assert accepted.fhir_server_id is not None
    assert accepted.fhir_server_id.startswith("Observation/")
    assert abs(accepted.stored_at - time.time()) < 600
    failed = reading_hops(store.engine, bad.id)
    assert failed is not None
    assert failed.fhir_state is DeliveryState.FAILED
    assert failed.fhir_reason is not None
    assert "effectiveDateTime" in failed.fhir_reason
    untried = reading_hops(store.engine, waiting.id)
    assert untried is not None
    assert (untried.fhir_state, untried.fhir_attempts) == (DeliveryState.QUEUED, 0)
    assert reading_hops(store.engine, "no-such-reading") is None

    counts = hop_counts(store.engine)
    assert counts.stored_at_central == 4
    assert counts.dead_letters == 1
    assert counts.satusehat == {
        DeliveryState.QUEUED: 1,
        DeliveryState.ACCEPTED: 1,
        DeliveryState.FAILED: 1,
        DeliveryState.SKIPPED: 1,
    }
    assert counts.satusehat == DeliveryStore(store.engine).counts()


def test_the_status_command_prints_counts_and_one_reading(
    store: CentralStore,
    fhir_server: FhirTestServer,
    central_db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps at 80 columns when not on a terminal
    good, bad = incoming(1), incoming(2)
    store.store([good, bad])
    entries = Entries()
    entries.bad[bad.id] = NIK
    deliver(fhir_server, store, entries)

    assert cmd_central_status(status(central_db_url, "--json")) == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert counts["stored_at_central"] == 2
    assert counts["satusehat"] == {"queued": 0, "accepted": 1, "failed": 1, "skipped": 0}

    assert cmd_central_status(status(central_db_url, "--json", "--id", good.id)) == 0
    shown = json.loads(capsys.readouterr().out)["reading"]
    row = DeliveryStore(store.engine).state(good.id)
    assert row is not None
    assert shown["satusehat"]["state"] == "accepted"
    assert shown["satusehat"]["server_id"] == row.server_id

    assert cmd_central_status(status(central_db_url, "--id", bad.id)) == 0
    out = capsys.readouterr().out
    assert "failed" in out
    assert "[16 digits removed]" in out  # the server's text shown as text, not markup
    assert NIK not in out

    assert cmd_central_status(status(central_db_url)) == 0
    out = capsys.readouterr().out
    assert "SATUSEHAT accepted" in out
    assert "stored at central" in out


def test_the_status_command_says_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cmd_central_status(status("not a url")) == 2
    assert "is not a database URL" in capsys.readouterr().err
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    assert cmd_central_status(status(empty)) == 1
    assert "has central run against it" in capsys.readouterr().err
    store = CentralStore(empty)
    store.close()
    assert cmd_central_status(status(empty, "--id", "r-404")) == 1
    assert "is not stored at central" in capsys.readouterr().err
    secret_url = "postgresql+psycopg://central:hunter2@127.0.0.1:1/gempita"
    assert cmd_central_status(status(secret_url)) == 1
    err = capsys.readouterr().err
    assert "hunter2" not in err
    assert "***" in err


@pytest.mark.parametrize("db_first", [True, False], ids=["db-before", "db-after"])
def test_gempita_central_status_through_the_real_command_line(
    store: CentralStore, central_db_url: str, tmp_path: Path, db_first: bool
) -> None:
    import subprocess
    import sys

    store.store([incoming(1), incoming(2), incoming(3)])
    # --db is central's shared option: accepted before or after the command's name, and the
    # config file's database is overridden by it either way.
    config = tmp_path / "central.toml"
    config.write_text('[database]\nurl = "sqlite:///elsewhere.db"\n')
    tail = ["status", "--json"]
    args = ["--config", str(config), "--db", central_db_url]
    argv = [*args, *tail] if db_first else [tail[0], *args, *tail[1:]]
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "central", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)["counts"]
    assert counts["stored_at_central"] == 3
    assert counts["satusehat"]["queued"] == 3
