"""`gempita central export-fhir` through a real store (SQLite and PostgreSQL) and a real process."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from central.fhir.export import export_ndjson
from central.store import CentralStore, Incoming, readings
from core.payload import encode_reading, rfc3339
from core.reading import Reading, Subject
from core.sealing import generate_keypair, seal
from tests.fhir.helpers import PSEUDONYM, SETTINGS, bp_reading, glucose_reading, validate
from tests.support.processes import ROOT

NIK = "6471054108900003"
KEYS = generate_keypair()
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _incoming(reading: Reading) -> Incoming:
    return Incoming(
        id=reading.id,
        gateway_id=reading.gateway_id,
        kind=reading.kind.value,
        measured_at=rfc3339(reading.measured_at),
        payload=encode_reading(reading).decode(),
    )


def _fill(url: str) -> None:
    """Five BP readings from one meter (one sealed NIK each), two glucose, one QC, one unbound."""
    sealed = Subject(PSEUDONYM, sealed_nik=seal(NIK, KEYS.public_key))
    batch = [
        _incoming(
            dataclasses.replace(
                bp_reading(subject=sealed), id=f"bp-{n}", measured_at=T0 + timedelta(hours=n)
            )
        )
        for n in range(5)
    ]
    batch.append(_incoming(glucose_reading(meal="fasting")))
    batch.append(_incoming(dataclasses.replace(glucose_reading(hi=True), id="glu-hi")))
    batch.append(_incoming(dataclasses.replace(glucose_reading(control_solution=True), id="qc")))
    batch.append(_incoming(dataclasses.replace(bp_reading(subject=None), id="unclaimed")))
    store = CentralStore(url)
    try:
        store.store(batch)
        # Bypasses the contract check on purpose: an old row central can no longer map.
        store.store([Incoming("broken", "kiosk-07", "glucose", rfc3339(T0), '{"schema": 1}')])
        with store.engine.begin() as conn:
            conn.execute(sa.update(readings).values(received_at=T0.timestamp() + 60))
            conn.execute(
                sa.update(readings)
                .where(readings.c.id == "bp-0")
                .values(received_at=T0.timestamp() - 60)
            )
    finally:
        store.close()


def _lines(path: Path) -> list[dict[str, Any]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    return [orjson.loads(line) for line in raw.splitlines()]


def _check_ndjson(resources: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for resource in resources:
        validate(resource)
        key = f"{resource['resourceType']}/{resource['id']}"
        assert key not in seen, f"{key} written twice"
        seen.add(key)
        if resource["resourceType"] == "Observation":
            # Devices come before the Observations that point at them.
            assert resource["device"]["reference"] in seen
            gateway = resource["extension"][0]["valueReference"]["reference"]
            assert gateway in seen


def _export_cli(url: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "central",
            "export-fhir",
            "--db",
            url,
            "--out",
            str(out),
            "--organization-id",
            "10000004",
            "--log-level",
            "INFO",
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_export_cli_writes_valid_ndjson_without_the_nik(
    central_db_url: str, tmp_path: Path
) -> None:
    _fill(central_db_url)
    out = tmp_path / "export.ndjson"
    result = _export_cli(central_db_url, out, "--since", "2026-10-31T00:00:00Z")
    assert result.returncode == 1, result.stderr  # the broken row is reported as a failure
    assert "exported 7 readings as 21 resources (17 Observations, 4 Devices)" in result.stdout, (
        result.stdout
    )
    assert "skipped 1 control-solution, 1 unclaimed (no subject) and 1 unmappable" in result.stdout
    assert "reading broken cannot be mapped" not in result.stdout
    assert "FHIR export skipped reading broken" in result.stderr
    resources = _lines(out)
    _check_ndjson(resources)
    kinds = sorted(r["resourceType"] for r in resources)
    assert kinds == ["Device"] * 4 + ["Observation"] * 17
    codes = sorted(
        r["code"]["coding"][0]["code"] for r in resources if r["resourceType"] == "Observation"
    )
    assert codes == sorted(["8480-6", "8462-4", "8867-4"] * 5 + ["41604-0", "41653-7"])
    everything = out.read_text() + result.stdout + result.stderr
    assert NIK not in everything
    assert "https://fhir.kemkes.go.id/id/nik" not in everything


def test_export_cli_nik_mode_and_since(central_db_url: str, tmp_path: Path) -> None:
    _fill(central_db_url)
    key = tmp_path / "central.key"
    key.write_text(KEYS.private_key.hex())
    out = tmp_path / "nik.ndjson"
    result = _export_cli(
        central_db_url,
        out,
        "--since",
        "2026-11-01T00:00:30+00:00",
        "--nik-key-file",
        str(key),
        "--bp-profile",
        "panel",
    )
    # bp-0 was received before --since; the glucose readings have no sealed NIK.
    assert "exported 4 readings as 10 resources (8 Observations, 2 Devices)" in result.stdout
    resources = _lines(out)
    _check_ndjson(resources)
    subjects = {orjson.dumps(r["subject"]) for r in resources if r["resourceType"] == "Observation"}
    assert subjects == {
        orjson.dumps(
            {
                "type": "Patient",
                "identifier": {"system": "https://fhir.kemkes.go.id/id/nik", "value": NIK},
            }
        )
    }
    assert NIK not in result.stdout + result.stderr


def test_export_pages_through_the_store_and_reports_progress(central_db_url: str) -> None:
    _fill(central_db_url)
    store = CentralStore(central_db_url)
    seen: list[tuple[int, int]] = []
    out = io.BytesIO()
    try:
        counts = export_ndjson(
            store.engine,
            out,
            SETTINGS,
            T0 + timedelta(hours=2),
            by="measured_at",
            batch=2,
            progress=lambda done, total: seen.append((done, total)),
        )
    finally:
        store.close()
    # bp-2, bp-3, bp-4 and the two glucose readings (measured on 2 November) are exported.
    assert (counts.readings, counts.observations, counts.devices) == (5, 11, 4)
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)  # with the QC record
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    resources = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert len(resources) == counts.resources
    _check_ndjson(resources)


def test_export_cli_takes_fhir_settings_from_central_config(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    _fill(url)
    config = tmp_path / "central.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[fhir]\norganization_id = "10000099"\nbp_profile = "panel"\n'
    )
    out = tmp_path / "export.ndjson"
    argv = [sys.executable, "-m", "gateway.cli", "central", "--config", str(config)]
    argv += ["export-fhir", "--since", "2026-10-31T00:00:00Z", "--out", str(out)]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr  # the broken row, as above
    observations = [r for r in _lines(out) if r["resourceType"] == "Observation"]
    assert {o["code"]["coding"][0]["code"] for o in observations} >= {"85354-9"}
    systems = {i["system"] for o in observations for i in o["identifier"]}
    assert systems == {"http://sys-ids.kemkes.go.id/observation/10000099"}

    bare = tmp_path / "bare.toml"
    bare.write_text(f'[database]\nurl = "{url}"\n')
    argv = [sys.executable, "-m", "gateway.cli", "central", "--config", str(bare)]
    argv += ["export-fhir", "--since", "2026-10-31T00:00:00Z", "--out", str(out)]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "fhir.organization_id" in result.stderr
