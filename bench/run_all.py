"""`python -m bench.run_all [--quick]`: every benchmark (issues 2 and 5), figures next to targets.

Full mode takes a few minutes (100,000-reading drains, 30 s of latency samples); `--quick`
runs each benchmark small (a few seconds in all) to check that it works, and judges no target.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version

from bench.bundle import run_bundle
from bench.central_ingest import run_central_ingest
from bench.common import MOSQUITTO, Result, load_average
from bench.drain import run_drain
from bench.fhir_export import run_fhir_export
from bench.fleet_lastwill import run_fleet_lastwill
from bench.forward import run_forward
from bench.kiosk import run_kiosk
from bench.latency import run_latency
from bench.startup import run_startup


@dataclass(frozen=True, slots=True)
class Sizes:
    drain_readings: int
    drain_rounds: int
    forward_readings: int
    forward_rounds: int
    latency_s: float
    starts: int
    kiosk_rounds: int
    ingest_readings: int
    fleet_kills: int
    fhir_readings: int = 100_000
    fhir_rounds: int = 3
    bundle_readings: int = 10_000
    bundle_rounds: int = 3


FULL = Sizes(
    drain_readings=100_000,
    drain_rounds=3,
    forward_readings=100_000,
    forward_rounds=3,
    latency_s=30.0,
    starts=5,
    kiosk_rounds=10,
    ingest_readings=100_000,
    fleet_kills=5,
)
QUICK = Sizes(
    drain_readings=2_000,
    drain_rounds=1,
    forward_readings=2_000,
    forward_rounds=1,
    latency_s=0.5,
    starts=2,
    kiosk_rounds=2,
    fhir_readings=2_000,
    fhir_rounds=1,
    ingest_readings=2_000,
    bundle_readings=500,
    bundle_rounds=1,
    fleet_kills=1,
)


def machine() -> list[str]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    broker = subprocess.run(
        [MOSQUITTO, "-h"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return [
        f"date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"cpus: {os.cpu_count()} x {cpu}",
        f"python: {platform.python_version()}, paho-mqtt {version('paho-mqtt')}, "
        f"SQLAlchemy {version('sqlalchemy')}, {broker[0] if broker else 'mosquitto ?'}",
        f"load average at start: {load_average()}",
    ]


BENCHMARKS = (
    "drain", "forward", "latency", "startup", "kiosk", "ingest", "fhir", "bundle", "fleet"
)


def run_all(quick: bool, only: tuple[str, ...] = BENCHMARKS) -> list[Result]:
    sizes = QUICK if quick else FULL
    steps: dict[str, Callable[[], list[Result]]] = {
        "drain": lambda: run_drain(sizes.drain_readings, sizes.drain_rounds, quick=quick),
        "forward": lambda: [
            run_forward(sizes.forward_readings, rounds=sizes.forward_rounds, quick=quick)
        ],
        "latency": lambda: [run_latency(sizes.latency_s, quick=quick)],
        "startup": lambda: [run_startup(sizes.starts, quick=quick)],
        "kiosk": lambda: run_kiosk(sizes.kiosk_rounds, quick=quick),
        "fhir": lambda: [run_fhir_export(sizes.fhir_readings, sizes.fhir_rounds, quick=quick)],
        "ingest": lambda: run_central_ingest(sizes.ingest_readings, quick=quick),
        "bundle": lambda: [run_bundle(sizes.bundle_readings, sizes.bundle_rounds, quick=quick)],
        "fleet": lambda: [run_fleet_lastwill(sizes.fleet_kills, quick=quick)],
    }
    results: list[Result] = []
    for name in only:
        for result in steps[name]():
            print(result.render(), flush=True)
            results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, targets not judged")
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        help="run only this benchmark (repeatable): drain = (a)+(d), forward = (b), "
        "latency = (c), startup = (e), kiosk = (f)+(g) (issue 5), ingest = (h)+(i), "
        "fhir = (j) (issue 12), fleet = (l) (issue 13), bundle = (m) (issue 14)",
    )
    args = parser.parse_args(argv)
    for line in machine():
        print(line)
    print(f"mode: {'quick' if args.quick else 'full'}", flush=True)
    start = time.monotonic()
    results = run_all(args.quick, tuple(args.only or BENCHMARKS))
    missed = [r.name for r in results if r.met is False]
    print(f"done in {time.monotonic() - start:.0f} s; load average now {load_average()}")
    if missed:
        print("targets missed: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
