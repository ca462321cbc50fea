"""Benchmark (k) for /quality (issue 13 item 5): the data-quality page on a city's database.

A private PostgreSQL (tests/support/postgres.py's server) is seeded, not timed, with
1,000,000 readings from 500 gateways at 500 sites of 34 kelurahan, received evenly over the
year before "now" (20 June 2026, noon WITA; a month holds ~83,000), with every kind of problem
the page counts, 20,000 dead letters and a duplicates row per gateway per day; then the days
that are over are counted once into quality_daily (timed apart: a deployment does it once).
Then the real web app (create_app under uvicorn, on loopback) answers signed-in GETs through
httpx; time is from request to the last byte, so it is the server's time plus a loopback
round trip. p50/p95 of N requests per page (after one warm-up each), and each page's size.

    .venv/bin/python -m bench.quality_page            # the figures of record
    .venv/bin/python -m bench.quality_page --quick    # 20,000 readings: a smoke run
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

import orjson
import sqlalchemy as sa
from httpx import Client

from bench.common import Result
from central.quality import QualityQueries
from central.store import CentralStore
from central.web.accounts import AccountStore
from central.web.app import create_app
from central.web.auth import Role
from central.web.settings import WebSettings
from central.wilayah import Wilayah, parse_wilayah
from tests.central_web.helpers import PASSWORD, serve
from tests.central_web.test_app import sign_in
from tests.support.postgres import PostgresServer

GATEWAYS = 500
KELURAHAN = 34
# "Now" is 20 June 2026, 12:00 in Balikpapan; the readings arrived over the year before it.
NOW = datetime(2026, 6, 20, 4, 0, tzinfo=UTC).timestamp()
YEAR_START = datetime(2025, 6, 20, 4, 0, tzinfo=UTC).timestamp()
YEAR_END = NOW
TARGET_MS = 300.0
TARGET_BYTES = 300 * 1024
_TIME_QUALITY = ("synced", "device_clock", "device_clock", "gateway_receive", "unknown")


def wilayah() -> Wilayah:
    kecamatan = [{"code": f"64710{k}", "name": f"Kecamatan {k}"} for k in range(1, 7)]
    kelurahan = [
        {
            "code": f"64710{1 + n % 6}{1000 + n}",
            "name": f"Kelurahan {n}",
            "kecamatan": f"64710{1 + n % 6}",
        }
        for n in range(KELURAHAN)
    ]
    sites = [
        {"id": f"site-{g}", "name": f"Kios {g}", "kelurahan": kelurahan[g % KELURAHAN]["code"]}
        for g in range(GATEWAYS)
    ]
    return parse_wilayah({"kecamatan": kecamatan, "kelurahan": kelurahan, "site": sites})


def _payload(n: int, gateway: str) -> dict[str, object]:
    glucose = n % 2 == 1
    values: dict[str, object] = (
        {
            "glucose_mgdl": None if n % 50 in (1, 3) else 70.0 + n % 200,
            "original_unit": "mg/dL", "original_value": None, "sample_type": None,
            "sample_location": None, "meal": "fasting", "control_solution": n % 40 == 5,
            "hi": n % 50 == 1, "lo": n % 50 == 3, "sensor_status": [],
        }
        if glucose
        else {
            "systolic_mmhg": 110.0 + n % 60, "diastolic_mmhg": 70.0 + n % 30, "map_mmhg": 90.0,
            "pulse_bpm": 60.0 + n % 40, "original_unit": "mmHg", "status": [], "user_id": None,
        }
    )  # fmt: skip
    bound = n % 10 != 0
    return {
        "schema": "gempita.reading/2", "id": f"r{n}", "gateway_id": gateway,
        "site_id": None, "kind": "glucose" if glucose else "blood_pressure",
        "measured_at": "2026-06-01T00:00:00Z",
        "time_quality": _TIME_QUALITY[n % 5 if n % 7 == 0 else 1],
        "device_time": None, "clock_offset_s": 1.5, "received_at": None,
        "device": {
            "transport": "ble", "id": f"omron:{gateway}-{'gl' if glucose else 'bp'}",
            "address": "AA:BB", "manufacturer": "Omron", "model": "X", "serial": "S",
            "firmware": "1", "record_key": str(n),
        },
        "values": values, "bound": bound,
        "subject": {
            "pseudonym": f"{n % 100_000:064x}", "sealed_nik": None, "consent_version": "1",
            "consent_at": None, "session_id": None, "performer": "self", "region": "647101",
            "sex": "female", "age_band": "40-49",
        } if bound else None,
        "assurance": {"status": "out_of_policy" if n % 100 == 7 else "ok", "reasons": []},
    }  # fmt: skip


def seed(url: str, count: int) -> None:
    store = CentralStore(url)  # migrates to head
    store.close()
    engine = sa.create_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(
            "COPY readings (id, gateway_id, kind, measured_at, received_at, payload) FROM STDIN"
        ) as copy:
            for n in range(count):
                gateway = f"gw-{n % GATEWAYS:03d}"
                data = _payload(n, gateway)
                at = YEAR_START + (YEAR_END - YEAR_START) * n / count
                copy.write_row(
                    (
                        data["id"],
                        gateway,
                        data["kind"],
                        data["measured_at"],
                        at,
                        orjson.dumps(data).decode(),
                    )
                )
        with cur.copy("COPY dead_letters (topic, payload, reason, received_at) FROM STDIN") as copy:
            for n in range(count // 50):
                at = YEAR_START + (YEAR_END - YEAR_START) * n / (count // 50)
                copy.write_row((f"gempita/v1/gw-{n % GATEWAYS:03d}/readings", b"junk", "bad", at))
        with cur.copy("COPY duplicates_received (gateway_id, hour, duplicates) FROM STDIN") as copy:
            for day in range(365):
                for g in range(GATEWAYS):
                    copy.write_row((f"gw-{g:03d}", int(YEAR_START) + day * 86400, 1 + g % 3))
        with cur.copy(
            "COPY fleet_gateways (gateway_id, kind, site_id, state, last_seen, state_since, "
            "reported_alarms, devices, alarms) FROM STDIN"
        ) as copy:
            for g in range(GATEWAYS):
                copy.write_row(
                    (f"gw-{g:03d}", "kiosk", f"site-{g}", "online", 0.0, 0.0, "[]", "[]", "[]")
                )
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def roll_up(url: str) -> float:
    """The first count of every day over (what a deployment does once, after 0007)."""
    engine = sa.create_engine(url)
    try:
        t0 = time.perf_counter()
        QualityQueries(engine, lambda: NOW).refresh()
        took = time.perf_counter() - t0
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE quality_daily")  # as autovacuum would, soon after
        return took
    finally:
        engine.dispose()


def _timed(client: Client, path: str, rounds: int) -> tuple[list[float], int]:
    first = client.get(path)  # warm-up: plans, caches
    assert first.status_code == 200, (path, first.status_code)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert answer.status_code == 200
    return times, len(first.content)


def _p95(times: list[float]) -> float:
    return sorted(times)[max(0, round(0.95 * len(times)) - 1)]


def run(count: int, rounds: int) -> Result:
    server = PostgresServer()
    server.start()
    try:
        url = server.url(server.create_database())
        t0 = time.perf_counter()
        seed(url, count)
        seeded_s = time.perf_counter() - t0
        rolled_s = roll_up(url)
        engine = sa.create_engine(url, pool_size=4)

        def clock() -> float:
            return NOW

        places = wilayah()
        accounts = AccountStore(engine, clock, max_failures=5, window_s=900, lockout_s=900)
        accounts.add("dina", PASSWORD, Role.DINKES)
        # A Puskesmas of three kelurahan: ~44 of the 500 gateways.
        codes = sorted(places.kelurahan)[:3]
        accounts.add("budi", PASSWORD, Role.PUSKESMAS, puskesmas_id="pkm", wilayah=codes)
        app = create_app(engine, WebSettings(wilayah=places), clock)
        on = "date=2026-06-20"
        pages = {
            "dinkes month (500 gateways, page 1 of 10)": ("dina", f"period=month&{on}"),
            "dinkes month, one gateway + devices": ("dina", f"period=month&{on}&gateway=gw-007"),
            "dinkes week": ("dina", f"period=week&{on}"),
            "dinkes year 2026 (~half the readings)": ("dina", f"period=year&{on}"),
            "puskesmas month (3 kelurahan)": ("budi", f"period=month&{on}"),
        }
        result = Result(
            "(k) /quality on PostgreSQL",
            target=f"each page p95 <= {TARGET_MS:.0f} ms and <= 300 KB ",
        )
        result.figures["seeded"] = (
            f"{count:,} readings, {GATEWAYS} gateways, {count // 50:,} dead letters"
            f" in {seeded_s:.0f} s"
        )
        result.figures["first count of the sealed days"] = f"{rolled_s:.1f} s (once, not per page)"
        met = True
        with serve(app) as served:
            for name, (user, path) in pages.items():
                with Client(base_url=served.url, timeout=120) as client:
                    sign_in(client, user)
                    times, size = _timed(client, f"/quality?{path}", rounds)
                p95 = _p95(times)
                result.figures[name] = (
                    f"p50 {statistics.median(times):.0f} ms, p95 {p95:.0f} ms, {size / 1024:.0f} KB"
                )
                met = met and p95 <= TARGET_MS and size <= TARGET_BYTES
        result.met = met if count >= 1_000_000 else None
        engine.dispose()
        return result
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    count = 20_000 if args.quick else args.readings
    print(run(count, 5 if args.quick else args.rounds).render())


if __name__ == "__main__":
    main()
