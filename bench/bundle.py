"""(m) issue 14: a bundle of 10,000 readings -- export on the gateway, import at central, size.

Readings: every one bound to a resident with a sealed NIK (the largest real payloads, and the
least compressible). Export: `gateway.bundles.export_bundles` over a real outbox (SQLite,
filled beforehand, not timed), one chunk of N, written and fsync'd as `gempita bundle export`
writes it.
Import: `central.bundle_import.import_bundle` into a fresh SQLite central store (the demo's
backend; PostgreSQL is in the tests, not timed here), receipt included. In-process: the CLI's
start-up is benchmark (e)'s business. Median of the rounds, each on a fresh outbox and store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from bench.common import GATEWAY_ID, Result, make_readings, median
from broker.pki import init_ca, issue
from central.bundle_import import CentralKeys, import_bundle
from central.store import CentralStore
from core.bundle import load_signer, load_trust
from core.reading import Reading, Subject
from gateway.bundles import export_bundles, write_bundle
from gateway.outbox import reading_row
from gateway.outbox_store import OutboxStore, StoreRequest
from kiosk.privacy import pseudonym, seal

EXPORT_TARGET_S = 2.0
IMPORT_TARGET_S = 5.0
SIZE_TARGET_BYTES = 2 * 1024 * 1024


def _bound(reading: Reading, n: int, central_public: bytes) -> Reading:
    """The reading as a kader's kit holds it: bound to a resident, the NIK sealed for central.

    The worst case for the size: a pseudonym and a sealed NIK per reading are random bytes that
    no compressor shrinks, where the unbound readings of the other benchmarks compress ~16x.
    """
    nik = f"6471{n:012d}"
    return dataclasses.replace(
        reading,
        subject=Subject(
            pseudonym=pseudonym(nik, b"bench-programme-key"),
            sealed_nik=seal(nik, central_public),
            consent_version="2026-11",
            consent_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
            session_id=f"s{n:08d}",
            performer="kader:kader01",
        ),
    )


def _round(
    tmp: Path, n: int, keys: CentralKeys, public: bytes
) -> tuple[float, float, int, int]:
    outbox = tmp / "outbox.db"
    store = OutboxStore(outbox, synchronous="normal")
    store.open()
    rows = [reading_row(_bound(r, i, public)) for i, r in enumerate(make_readings(n, tmp.name))]
    store.store([StoreRequest(rows, None)])
    store.close()
    signer = load_signer((tmp.parent / f"{GATEWAY_ID}.crt").read_bytes(),
                         (tmp.parent / f"{GATEWAY_ID}.key").read_bytes())
    now = dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    bundles = list(
        export_bundles(
            outbox, gateway_id=GATEWAY_ID, signer=signer, recipient_public_key=public,
            chunk_size=n, now=now,
        )
    )
    path = write_bundle(tmp / "stick", bundles[0])
    exported = time.perf_counter() - start
    data = path.read_bytes()
    central = CentralStore(f"sqlite:///{tmp / 'central.db'}")
    try:
        start = time.perf_counter()
        done = import_bundle(central, data, keys, now=now)
        imported = time.perf_counter() - start
        if done.stored != n:
            raise RuntimeError(f"imported {done.stored} of {n}: the benchmark is broken")
    finally:
        central.close()
    return exported, imported, len(data), sum(len(r.payload) for r in rows)


def run_bundle(n: int = 10_000, rounds: int = 3, *, quick: bool = False) -> Result:
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as name:
        tmp = Path(name)
        init_ca(tmp)
        issue(tmp, GATEWAY_ID)
        central = issue(tmp, "central")
        x25519 = X25519PrivateKey.generate()
        public = x25519.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        keys = CentralKeys(
            x25519_private=x25519.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            ),
            trust=load_trust((tmp / "ca.crt").read_bytes()),
            signer=load_signer(central.cert.read_bytes(), central.key.read_bytes()),
        )
        results = []
        for index in range(rounds):
            work = tmp / f"round{index}"
            work.mkdir()
            results.append(_round(work, n, keys, public))
    export_s = median([r[0] for r in results])
    import_s = median([r[1] for r in results])
    size = int(median([r[2] for r in results]))
    met = None if quick else (
        export_s <= EXPORT_TARGET_S and import_s <= IMPORT_TARGET_S and size <= SIZE_TARGET_BYTES
    )
    return Result(
        name=f"(m) bundle of {n:,} readings (issue 14)",
        figures={
            "export (outbox -> sealed file, fsync'd)": f"{export_s:.2f} s "
            f"(rounds: {', '.join(f'{r[0]:.2f}' for r in results)})",
            "import (verify, open, store in SQLite, receipt)": f"{import_s:.2f} s "
            f"(rounds: {', '.join(f'{r[1]:.2f}' for r in results)})",
            "bundle size": f"{size:,} bytes ({size / n:.0f} bytes per reading; the payloads "
            f"uncompressed: {results[0][3]:,} bytes)",
        },
        target=f"export <= {EXPORT_TARGET_S:.0f} s, import <= {IMPORT_TARGET_S:.0f} s, "
        f"size <= {SIZE_TARGET_BYTES // (1024 * 1024)} MB",
        met=met,
    )


if __name__ == "__main__":
    print(run_bundle().render())
