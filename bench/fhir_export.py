"""(j) FHIR export: stored readings -> bulk NDJSON, against a raw dump of the same rows.

The store (SQLite, WAL, as the demo and the tests run it) is filled before the clock starts:
bound readings (each with a subject, as the kiosk binds them), alternately blood pressure and
glucose, from 50 gateways, so each gives resources and the Device set is realistic. Timed:
`central.fhir.export.export_ndjson` from the first query to the last line written, to a file
in a temp directory. Baseline in the same run, on the same database: the same keyset pages
read and each stored payload written as one line with no mapping, the floor the mapping sits
on. 3 rounds each, alternating; medians judged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.common import Result, load_average, make_reading
from central.fhir.export import export_ndjson
from central.fhir.settings import FhirSettings
from central.store import CentralStore, Incoming, readings
from core.payload import encode_reading, rfc3339
from core.reading import Subject

TARGET_PER_S = 5_000.0
GATEWAYS = 50
FILL_BATCH = 5_000
SINCE = "2000-01-01T00:00:00+00:00"


def _fill(store: CentralStore, count: int) -> None:
    for start in range(0, count, FILL_BATCH):
        batch = []
        for n in range(start, min(count, start + FILL_BATCH)):
            pseudonym = hashlib.sha256(str(n % 20_000).encode()).hexdigest()
            reading = dataclasses.replace(
                make_reading(n, "fhir-"),
                gateway_id=f"gw-{n % GATEWAYS:03d}",
                subject=Subject(pseudonym, performer="self" if n % 3 else "kader:k01"),
                bound=True,
            )
            batch.append(
                Incoming(
                    id=reading.id,
                    gateway_id=reading.gateway_id,
                    kind=reading.kind.value,
                    measured_at=rfc3339(reading.measured_at),
                    payload=encode_reading(reading).decode(),
                )
            )
        store.store(batch)


def _raw_dump(store: CentralStore, out: Path, batch: int = 1000) -> int:
    """The same pages as the export, each payload written as it is stored."""
    done = 0
    last = ""
    with out.open("wb") as handle:
        while True:
            with store.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(readings.c.id, readings.c.payload)
                    .where(readings.c.id > last)
                    .order_by(readings.c.id)
                    .limit(batch)
                ).all()
            if not rows:
                return done
            handle.write("\n".join(row.payload for row in rows).encode() + b"\n")
            done += len(rows)
            last = rows[-1].id


def run_fhir_export(count: int, rounds: int = 3, *, quick: bool = False) -> Result:
    from datetime import datetime

    settings = FhirSettings(organization_id="10000004", location_id="L1")
    since = datetime.fromisoformat(SINCE)
    exports: list[float] = []
    export_cpu: list[float] = []
    raws: list[float] = []
    sizes = (0, 0)
    load_start = load_average()
    with tempfile.TemporaryDirectory(prefix="gempita-bench-fhir-") as tmp:
        root = Path(tmp)
        store = CentralStore(f"sqlite:///{root / 'central.db'}")
        try:
            fill_start = time.monotonic()
            _fill(store, count)
            fill_s = time.monotonic() - fill_start
            for _ in range(rounds):
                start = time.perf_counter()
                done = _raw_dump(store, root / "raw.ndjson")
                raws.append(done / (time.perf_counter() - start))
                out = root / "export.ndjson"
                # Freeing the previous round's file is not the export's work.
                out.unlink(missing_ok=True)
                cpu = time.process_time()
                start = time.perf_counter()
                with out.open("wb") as handle:
                    counts = export_ndjson(store.engine, handle, settings, since)
                elapsed = time.perf_counter() - start
                export_cpu.append((time.process_time() - cpu) / count * 1e6)
                if counts.readings != count:
                    raise RuntimeError(f"exported {counts.readings} of {count} readings")
                exports.append(count / elapsed)
                sizes = (counts.resources, out.stat().st_size)
        finally:
            store.close()
    median = statistics.median(exports)
    result = Result(
        name="(j) FHIR export: stored readings -> NDJSON",
        target=f">= {TARGET_PER_S:,.0f} readings/s",
        met=None if quick else median >= TARGET_PER_S,
    )
    result.figures = {
        "readings": f"{count:,} (filled in {fill_s:.1f} s, not timed)",
        "export, each round": ", ".join(f"{r:,.0f}/s" for r in exports),
        "export, median": f"{median:,.0f} readings/s",
        "export CPU per reading (median)": f"{statistics.median(export_cpu):.0f} us",
        "raw page dump (baseline), median": f"{statistics.median(raws):,.0f} readings/s",
        "ratio export/raw": f"{median / statistics.median(raws):.2f}",
        "output": f"{sizes[0]:,} resources, {sizes[1] / 1e6:.1f} MB",
        "load average": f"{load_start} -> {load_average()}",
    }
    return result
