"""(k) dashboard pages on PostgreSQL: server time and size of every ready page (issue 13).

`python -m bench.k_dashboard [--readings N] [--gateways N] [--residents N] [--requests N]
[--smoke]`: a private PostgreSQL (tests/support/postgres.py's server) seeded with N realistic
payload-v2 readings (`core.payload.to_payload` of `core.reading.Reading`s, each bound to a
resident by pseudonym with a really sealed NIK, over a synthetic city of 6 kecamatan, 34
kelurahan and one site per gateway) stored with COPY, the fleet table filled for every
gateway, the referral worklist filled by central's own `ReferralBook.refresh()` after each
chunk of readings (as the page does while readings arrive), then the real app
(`central.web.app.create_app`) driven in-process through httpx's ASGI transport, signed in
as a Dinkes and as a Puskesmas account. Every page of `MENU` with `ready=True` is measured,
with its drill-downs (cascade: each level and period; worklist: the list and a detail;
fleet: the list and a gateway, once they are ready). Per URL: the first request apart (it
may file what arrived since the last scan), then `--requests` timed requests, p50/p95 of
the time from request to the last body byte, and the body's size.

Target (k): with 1,000,000 readings, 500 gateways and 100,000 residents, each page <= 300 ms
at p95 and <= 300 KB.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import io
import random
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import sqlalchemy as sa

import central.cascade
from bench.common import Result, load_average, percentile
from central.fleet_store import fleet_gateways
from central.referrals import ReferralBook, referrals
from central.store import CentralStore
from central.wilayah import Kecamatan, Kelurahan, Site, Wilayah
from core.payload import rfc3339, to_payload
from core.reading import (
    AGE_BANDS,
    BloodPressure,
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    Sex,
    Subject,
    TimeQuality,
    Transport,
)
from core.sealing import generate_keypair, seal
from tests.support.postgres import PostgresServer

TARGET_MS = 300.0
TARGET_BYTES = 300 * 1024
PASSWORD = "bench-kata-sandi-1"
# The data covers 2026; the app's clock is the last day of it, in the afternoon (WITA).
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=8)
NOW = datetime(2026, 12, 31, 6, 0, tzinfo=UTC)
CHUNK = 100_000
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_BP_DEVICE = DeviceIdentity(
    Transport.BLE, "C4:7C:8D:6A:3E:12", "OMRON", "HEM-7155T", "20231104512", "1.2.0"
)
_GLUCOSE_DEVICE = DeviceIdentity(
    Transport.BLE, "D1:22:8F:00:11:7A", "Roche", "Accu-Chek Instant", "92211478", "2.1"
)


@dataclass(frozen=True, slots=True)
class Resident:
    pseudonym: str
    sealed_nik: str
    region: str  # the kecamatan of the NIK
    kelurahan: str  # where they live: their usual site is there
    sex: Sex
    band: str


def synthetic_wilayah(gateways: int) -> tuple[Wilayah, dict[str, str]]:
    """6 kecamatan and 34 kelurahan as Balikpapan has, one site per gateway spread over them;
    returns the wilayah and gateway id -> site id."""
    kecamatan = {f"64710{i}": Kecamatan(f"64710{i}", f"Kecamatan {i}") for i in range(1, 7)}
    kelurahan: dict[str, Kelurahan] = {}
    per = (6, 6, 6, 6, 5, 5)
    for (code, _kec), count in zip(kecamatan.items(), per, strict=True):
        for j in range(1, count + 1):
            kel = f"{code}100{j}"
            kelurahan[kel] = Kelurahan(kel, f"Kelurahan {kel[-5:]}", code, 18_000, 7_500)
    codes = sorted(kelurahan)
    sites: dict[str, Site] = {}
    placed: dict[str, str] = {}
    for g in range(gateways):
        site_id = f"site-{g:03d}"
        sites[site_id] = Site(site_id, f"Pos {g:03d}", codes[g % len(codes)])
        placed[f"gw-{g:03d}"] = site_id
    return Wilayah(kecamatan, kelurahan, sites), placed


def _residents(count: int, wilayah: Wilayah, rng: random.Random) -> list[Resident]:
    key = b"bench programme key"
    public = generate_keypair().public_key
    codes = sorted(wilayah.kelurahan)
    bands = [label for edge, label in AGE_BANDS if edge >= 15]
    found = []
    for n in range(count):
        kel = codes[n % len(codes)]
        # A synthetic NIK, only ever held here: sealed and hashed, never written in clear.
        nik = f"{kel[:6]}{rng.randrange(10**10):010d}"
        found.append(
            Resident(
                pseudonym=hmac.new(key, nik.encode(), hashlib.sha256).hexdigest(),
                sealed_nik=seal(nik, public),
                region=nik[:6],
                kelurahan=kel,
                sex=Sex.FEMALE if rng.random() < 0.55 else Sex.MALE,
                band=rng.choice(bands),
            )
        )
    return found


def _reading(
    n: int, who: Resident | None, gateway: str, site: str, at: datetime, rng: random.Random
) -> Reading:
    subject = (
        None
        if who is None
        else Subject(
            who.pseudonym,
            sealed_nik=who.sealed_nik,
            consent_version="2026-01",
            consent_at=at - timedelta(minutes=3),
            session_id=f"s-{n}",
            region=who.region,
            sex=who.sex,
            age_band=who.band,
        )
    )
    if rng.random() < 0.6:
        systolic = round(rng.gauss(128, 18))
        values: BloodPressure | Glucose = BloodPressure(
            float(systolic), float(round(systolic * 0.62 + rng.gauss(3, 7))), None, 74.0
        )
        kind, device = Kind.BLOOD_PRESSURE, _BP_DEVICE
    else:
        fasting = rng.random() < 0.4
        mgdl = rng.gauss(104, 25) if fasting else rng.gauss(135, 45)
        hi = rng.random() < 0.002
        values = Glucose(
            None if hi else float(max(20, round(mgdl))),
            original_value=None if hi else float(max(20, round(mgdl))),
            sample_type="capillary_whole_blood",
            meal="fasting" if fasting else "casual",
            control_solution=rng.random() < 0.01,
            hi=hi,
        )
        kind, device = Kind.GLUCOSE, _GLUCOSE_DEVICE
    return Reading(
        id=f"r{n:08d}",
        kind=kind,
        gateway_id=gateway,
        device=device,
        record_key=str(n),
        measured_at=at,
        time_quality=TimeQuality.DEVICE_CLOCK,
        values=values,
        device_time=(at + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S"),
        clock_offset_s=1.5,
        received_at=at + timedelta(seconds=2),
        site_id=site,
        subject=subject,
        bound=True,
    )


def _rows(
    count: int, residents: Sequence[Resident], wilayah: Wilayah, placed: dict[str, str],
    seed: int,
) -> Iterator[tuple[str, str, str, str, float, str]]:  # fmt: skip
    """(id, gateway, kind, measured_at, received_at, payload) in received order, spread over
    the year; 5% unbound, 80% of a resident's readings at a site of their own kelurahan."""
    rng = random.Random(seed)
    by_kelurahan: dict[str, list[str]] = {}
    for gateway, site in placed.items():
        by_kelurahan.setdefault(wilayah.sites[site].kelurahan, []).append(gateway)
    gateways = sorted(placed)
    span = (NOW - YEAR_START).total_seconds()
    for n in range(count):
        at = YEAR_START + timedelta(seconds=span * (n + rng.random()) / count)
        who = None if rng.random() < 0.05 else rng.choice(residents)
        if who is not None and who.kelurahan in by_kelurahan and rng.random() < 0.8:
            gateway = rng.choice(by_kelurahan[who.kelurahan])
        else:
            gateway = rng.choice(gateways)
        reading = _reading(n, who, gateway, placed[gateway], at, rng)
        payload = orjson.dumps(to_payload(reading)).decode()
        received = at.timestamp() + 2 + rng.expovariate(1 / 30)
        yield reading.id, gateway, reading.kind.value, rfc3339(at), received, payload


@dataclass(slots=True)
class Seeded:
    url: str
    wilayah: Wilayah
    placed: dict[str, str]
    figures: dict[str, str]


def seed(
    server: PostgresServer,
    readings: int,
    gateways: int,
    residents: int,
    *,
    referrals_too: bool = True,
) -> Seeded:
    name = server.create_database()
    url = server.url(name)
    dsn = f"host=127.0.0.1 port={server.port} user=postgres dbname={name}"
    wilayah, placed = synthetic_wilayah(gateways)
    rng = random.Random(13)
    figures: dict[str, str] = {}
    t0 = time.perf_counter()
    people = _residents(residents, wilayah, rng)
    figures["residents (pseudonym + sealed NIK each)"] = (
        f"{residents:,} in {time.perf_counter() - t0:.1f} s"
    )
    store = CentralStore(url)  # migrated to head, as central opens it
    engine = store.engine
    with engine.begin() as conn:
        conn.execute(
            fleet_gateways.insert(),
            [
                {
                    "gateway_id": gw,
                    "kind": "kiosk" if i % 3 else "kit",
                    "site_id": site,
                    "state": "online" if i % 25 else "offline",
                    "version": "1.4.0",
                    "status_at": NOW.timestamp() - 30,
                    "last_seen": NOW.timestamp() - 30,
                    "state_since": NOW.timestamp() - 86_400,
                    "outbox_pending": i % 7,
                    "outbox_published": 2_000 + i,
                    "outbox_unconfirmed": 0,
                    "outbox_refused": 0,
                    "outbox_max": 100_000,
                    "oldest_unconfirmed_age_s": None,
                    "clock_trusted": True,
                    "reported_alarms": "[]",
                    "devices": "[]",
                    "alarms": "[]",
                }
                for i, (gw, site) in enumerate(sorted(placed.items()))
            ],
        )
    book = ReferralBook(engine, NOW.timestamp, wilayah)
    copy_s = refer_s = build_s = 0.0
    stored = 0
    rows = _rows(readings, people, wilayah, placed, seed=14)
    with psycopg.connect(dsn) as pg:
        while stored < readings:
            t1 = time.perf_counter()
            chunk = io.StringIO()
            n = 0
            for row in rows:
                chunk.write("\t".join(_escape(str(v)) for v in row) + "\n")
                n += 1
                if n == CHUNK:
                    break
            build_s += time.perf_counter() - t1
            t2 = time.perf_counter()
            with (
                pg.cursor() as cur,
                cur.copy(
                    "COPY readings (id, gateway_id, kind, measured_at, received_at, payload) "
                    "FROM STDIN"
                ) as copy,
            ):
                copy.write(chunk.getvalue())
            pg.commit()
            copy_s += time.perf_counter() - t2
            stored += n
            t3 = time.perf_counter()
            if referrals_too:
                book.refresh()  # what /worklist does on each view, here once per chunk
            refer_s += time.perf_counter() - t3
    figures["readings built (Reading -> to_payload -> orjson)"] = f"{build_s:.1f} s"
    figures["COPY readings"] = f"{stored:,} in {copy_s:.1f} s ({stored / copy_s:,.0f}/s)"
    figures["ReferralBook.refresh (per chunk, sum)"] = f"{refer_s:.1f} s"
    t4 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as pg:
        pg.execute("VACUUM ANALYZE")
    figures["VACUUM ANALYZE"] = f"{time.perf_counter() - t4:.1f} s"
    # Looked up, not imported: the same file measures the code from before the facts (the
    # "before" figures of bench/RESULTS.md), which has nothing to fill.
    refresh_facts = getattr(central.cascade, "refresh_facts", None)
    if refresh_facts is not None:
        t5 = time.perf_counter()
        filed = refresh_facts(engine)
        figures["first cascade fill (refresh_facts)"] = (
            f"{filed:,} readings in {time.perf_counter() - t5:.1f} s"
        )
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(referrals)).scalar_one()
    figures["referrals filed"] = f"{count:,}"
    with psycopg.connect(dsn, autocommit=True) as pg:
        # VACUUM too, as autovacuum does after a bulk insert (PostgreSQL 13+): the cascade
        # cache's validator counts the facts of a period by an index-only scan, which reads
        # the heap for pages the visibility map does not yet mark all-visible.
        pg.execute("VACUUM ANALYZE")
        size = pg.execute("SELECT pg_database_size(current_database())").fetchone()
    figures["database size"] = f"{(size[0] if size else 0) / 1e6:,.0f} MB"
    store.close()
    return Seeded(url, wilayah, placed, figures)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


@dataclass(frozen=True, slots=True)
class Measured:
    who: str
    url: str
    status: int
    first_ms: float
    p50_ms: float
    p95_ms: float
    size: int

    @property
    def met(self) -> bool:
        return self.status == 200 and self.p95_ms <= TARGET_MS and self.size <= TARGET_BYTES


def _urls(ready: Sequence[str], seeded: Seeded, who: str, referral: int | None) -> list[str]:
    wilayah = seeded.wilayah
    urls: list[str] = []
    day = (NOW + timedelta(hours=8)).date()
    kec = "647101"
    kel = wilayah.kelurahan_in(kec)[0].code
    site = wilayah.sites_in(kel)[0].id
    for path in ready:
        if path == "/cascade":
            for period in ("day", "week", "month", "year"):
                urls.append(f"/cascade?period={period}&date={day}")
            month = f"period=month&date={day}"
            urls += [
                f"/cascade?{month}&kecamatan={kec}",
                f"/cascade?{month}&kelurahan={kel}",
                f"/cascade?{month}&site={site}",
                f"/cascade?period=year&date={day}&kelurahan={kel}",
            ]
        elif path == "/worklist":
            urls.append("/worklist")
            if referral is not None:
                urls.append(f"/worklist/{referral}")
        elif path == "/fleet":
            urls += ["/fleet", f"/fleet/{sorted(seeded.placed)[0]}"]
        elif path == "/audit" and who != "dinkes":
            continue
        else:
            urls.append(path)
    return urls


async def _drive(
    seeded: Seeded, requests: int, puskesmas_kelurahan: Sequence[str], only: Sequence[str] = ()
) -> list[Measured]:
    import httpx

    from central.web.accounts import AccountStore
    from central.web.app import MENU, create_app
    from central.web.auth import Role
    from central.web.settings import WebSettings

    engine = sa.create_engine(seeded.url, pool_size=10)
    clock = NOW.timestamp
    accounts = AccountStore(engine, clock, max_failures=5, window_s=900, lockout_s=900)
    accounts.add("dinkes", PASSWORD, Role.DINKES)
    accounts.add(
        "puskesmas", PASSWORD, Role.PUSKESMAS, puskesmas_id="pkm-1", wilayah=puskesmas_kelurahan
    )
    app = create_app(engine, WebSettings(wilayah=seeded.wilayah), clock)
    ready = [p.path for p in MENU if p.ready and (not only or p.path in only)]
    found: list[Measured] = []
    try:
        for who in ("dinkes", "puskesmas"):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://central") as c:
                login = await c.get("/login")
                token = _CSRF.search(login.text)
                assert token is not None, "no CSRF token on /login"
                answer = await c.post(
                    "/login",
                    data={"username": who, "password": PASSWORD, "csrf_token": token.group(1)},
                )
                assert answer.status_code == 303, answer.text[:500]
                referral = _a_referral(engine, None if who == "dinkes" else puskesmas_kelurahan)
                for url in _urls(ready, seeded, who, referral):
                    t0 = time.perf_counter()
                    first = await c.get(url)
                    first_ms = (time.perf_counter() - t0) * 1000
                    times = []
                    for _ in range(requests):
                        t1 = time.perf_counter()
                        answer = await c.get(url)
                        times.append((time.perf_counter() - t1) * 1000)
                    found.append(
                        Measured(
                            who,
                            url,
                            first.status_code,
                            first_ms,
                            percentile(times, 50),
                            percentile(times, 95),
                            len(answer.content),
                        )
                    )
                    print(f"   {who:9} {url:60} {found[-1].p95_ms:7.1f} ms", flush=True)
    finally:
        engine.dispose()
    return found


def _a_referral(engine: sa.Engine, kelurahan: Sequence[str] | None) -> int | None:
    query = sa.select(sa.func.min(referrals.c.id))
    if kelurahan is not None:
        query = query.where(referrals.c.kelurahan.in_(list(kelurahan)))
    with engine.connect() as conn:
        value = conn.execute(query).scalar_one_or_none()
    return None if value is None else int(value)


def run_k_dashboard(
    readings: int,
    gateways: int,
    residents: int,
    requests: int,
    *,
    quick: bool = False,
    cascade_only: bool = False,
) -> Result:
    server = PostgresServer()
    server.start()
    try:
        load_before = load_average()
        t0 = time.perf_counter()
        seeded = seed(server, readings, gateways, residents, referrals_too=not cascade_only)
        seeded.figures["seeding total"] = f"{time.perf_counter() - t0:.1f} s"
        kelurahan = [k.code for k in seeded.wilayah.kelurahan_in("647101")]
        only = ("/cascade",) if cascade_only else ()
        measured = asyncio.run(_drive(seeded, requests, kelurahan, only))
    finally:
        server.stop()
    result = Result(
        f"(k) dashboard pages ({readings:,} readings, {gateways} gateways, "
        f"{residents:,} residents, PostgreSQL, {requests} requests each"
        f"{'; /cascade only, worklist not filled' if cascade_only else ''})",
        target=f"each page p95 <= {TARGET_MS:.0f} ms and <= {TARGET_BYTES // 1024} KB",
    )
    result.figures.update(seeded.figures)
    result.figures["load average (before, after)"] = f"{load_before} / {load_average()}"
    for m in measured:
        verdict = "MET" if m.met else "MISSED"
        result.figures[f"{m.who} {m.url}"] = (
            f"HTTP {m.status}, first {m.first_ms:.0f} ms, p50 {m.p50_ms:.1f} ms, "
            f"p95 {m.p95_ms:.1f} ms, {m.size / 1024:.1f} KB{'' if quick else ' ' + verdict}"
        )
    result.met = None if quick else all(m.met for m in measured)
    if not quick:
        missed = [f"{m.who} {m.url}" for m in measured if not m.met]
        if missed:
            result.notes.append("missed: " + "; ".join(missed))
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--gateways", type=int, default=500)
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; no target judged")
    parser.add_argument(
        "--cascade-only",
        action="store_true",
        help="a development aid: skip filling the worklist and measure /cascade only",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="keep no cascade answers (central/cascade_cache.py): every view counted afresh",
    )
    args = parser.parse_args(argv)
    if args.no_cache:
        import central.cascade_cache

        central.cascade_cache.MAX_ENTRIES = 0
    if args.smoke:
        result = run_k_dashboard(2_000, 20, 300, 3, quick=True)
    else:
        result = run_k_dashboard(
            args.readings,
            args.gateways,
            args.residents,
            args.requests,
            cascade_only=args.cascade_only,
        )
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(result.render())


if __name__ == "__main__":
    main()
