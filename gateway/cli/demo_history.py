"""The demo's past: ninety days of screenings from four simulated gateways, stored once.

Central's pages are about a programme's weeks and months, which a demo that started a minute
ago does not have. So `gempita demo` stores, before it starts, what two kiosks and two kader kits
could have sent over the last ninety days (residents screened, some of them screen-positive, so
the cascade and the referral worklist have rows), and the fleet's last word from each (one kit
away for days with a backlog, one kiosk whose glucometer is out of policy), as central would
have received them: through CentralStore and FleetStore, the service's own write paths.

Deterministic (a fixed seed, ids from the day and the gateway): starting the demo again stores
nothing twice. Pseudonyms are random hex; no NIK exists anywhere in this data.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from central.fleet_store import FleetStore, parse_status
from central.store import CentralStore, Incoming
from core.payload import encode_reading
from core.reading import (
    Assurance,
    AssuranceStatus,
    BloodPressure,
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    Sex,
    Subject,
    TimeQuality,
    Transport,
    age_band,
)
from core.topics import topic_status

DAYS = 90
RESIDENTS = 400


@dataclass(frozen=True, slots=True)
class PastGateway:
    gateway_id: str
    kind: str  # "kiosk" | "kit"
    site_id: str
    region: str  # the kecamatan most of its residents are registered in (NIK's first six)
    per_day: int  # screenings on an average day
    silent_days: int = 0  # the last status this long ago (a kit away from any network)
    glucometer_unfit: bool = False


# Sites of DEMO_WILAYAH (gateway/cli/demo.py lists these four): Klandasan Ilir (Balikpapan
# Kota) and Sepinggan (Balikpapan Selatan).
GATEWAYS: tuple[PastGateway, ...] = (
    PastGateway("gw-kios-klandasan", "kiosk", "kios-klandasan", "647106", 14),
    PastGateway("gw-kit-klandasan", "kit", "kit-klandasan", "647106", 6, silent_days=4),
    PastGateway("gw-kios-sepinggan", "kiosk", "kios-sepinggan", "647101", 12,
                glucometer_unfit=True),
    PastGateway("gw-kit-sepinggan", "kit", "kit-sepinggan", "647101", 5),
)  # fmt: skip

_BP = DeviceIdentity(Transport.BLE, "C4:7C:8D:6A:3E:12", "OMRON", "HEM-7155T", "DEMO-BP", "1.2")
_GLUCO = DeviceIdentity(Transport.BLE, "D1:22:8F:00:11:7A", "Roche", "Accu-Chek Instant",
                        "DEMO-GL", "2.1")  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Resident:
    pseudonym: str
    sex: Sex
    age: int
    region: str


def _residents(rng: random.Random, regions: Sequence[str]) -> list[_Resident]:
    return [
        _Resident(
            pseudonym=f"{rng.getrandbits(256):064x}",
            sex=rng.choice((Sex.FEMALE, Sex.MALE)),
            age=rng.randint(15, 80),
            region=rng.choice(regions),
        )
        for _ in range(RESIDENTS)
    ]


def _reading(n: str, gw: PastGateway, who: _Resident, at: datetime, rng: random.Random) -> Reading:
    values: BloodPressure | Glucose
    assurance: Assurance | None = None
    if rng.random() < 0.6:
        # Older residents run higher, so some are grade 1-2 and a few urgent.
        systolic = round(rng.gauss(112 + who.age * 0.45, 16))
        diastolic = round(systolic * 0.62 + rng.gauss(4, 6))
        values = BloodPressure(float(systolic), float(diastolic), None, float(rng.randint(58, 96)))
        kind, device = Kind.BLOOD_PRESSURE, _BP
    else:
        fasting = rng.random() < 0.4
        mgdl = rng.gauss(100, 18) if fasting else rng.gauss(128, 40)
        values = Glucose(
            float(max(40, round(mgdl))),
            sample_type="capillary_whole_blood",
            meal="fasting" if fasting else "casual",
        )
        kind, device = Kind.GLUCOSE, _GLUCO
        if gw.glucometer_unfit:
            assurance = Assurance(AssuranceStatus.OUT_OF_POLICY, ("strips_expired",))
    return Reading(
        id=hashlib.sha256(f"demo-history/{n}".encode()).hexdigest()[:32],
        kind=kind,
        gateway_id=gw.gateway_id,
        device=device,
        record_key=n,
        measured_at=at,
        time_quality=TimeQuality.SYNCED,
        values=values,
        received_at=at + timedelta(seconds=rng.randint(2, 40)),
        site_id=gw.site_id,
        subject=Subject(
            who.pseudonym,
            consent_version="2026-01",
            consent_at=at - timedelta(minutes=3),
            region=who.region,
            sex=who.sex,
            age_band=age_band(who.age),
        ),
        bound=True,
        assurance=assurance,
    )


def past_readings(now: datetime, seed: int = 2026) -> list[Reading]:
    """The demo's history up to yesterday, in site hours (08:00-17:00 WITA, UTC+8)."""
    rng = random.Random(seed)  # noqa: S311 - simulated screenings, not secrets
    people = _residents(rng, [gw.region for gw in GATEWAYS])
    start = (now - timedelta(days=DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    out: list[Reading] = []
    for day in range(DAYS):
        midnight = start + timedelta(days=day)
        for gw in GATEWAYS:
            if day >= DAYS - gw.silent_days:
                continue  # the kit is away: nothing from it since
            local = [p for p in people if p.region == gw.region]
            # One stream per gateway and day: a demo started tomorrow makes today's readings
            # the same again, so they are found stored, not added beside the first ones.
            daily = random.Random(f"{seed}/{gw.gateway_id}/{midnight:%Y%m%d}")  # noqa: S311
            for k in range(max(0, round(daily.gauss(gw.per_day, gw.per_day / 3)))):
                at = midnight + timedelta(minutes=daily.randint(0, 9 * 60))  # 00:00Z = 08:00 WITA
                key = f"{gw.gateway_id}/{midnight:%Y%m%d}/{k}"
                out.append(_reading(key, gw, daily.choice(local), at.astimezone(UTC), daily))
    return out


def _status(gw: PastGateway, now: datetime) -> bytes:
    seen = now - timedelta(days=gw.silent_days, minutes=2)
    body: dict[str, object] = {
        "schema": "gempita.status/1",
        "gateway_id": gw.gateway_id,
        "state": "offline" if gw.silent_days else "online",
        "version": "0.1.0",
        "at": seen.timestamp(),
        "site_id": gw.site_id,
        "kind": gw.kind,
        "outbox": {
            "pending": 37 if gw.silent_days else 0,
            "published": 0,
            "unconfirmed": 37 if gw.silent_days else 0,
            "refused": 0,
            "max_readings": 500000,
            "oldest_pending_age_s": 4.2 * 86400 if gw.silent_days else None,
        },
        "clock": {"trusted": True, "source": "kernel"},
        "alarms": [],
        "devices": [
            {"name": "bp", "transport": "ble", "state": "idle", "last_seen": seen.isoformat(),
             "battery_pct": 80, "last_error": None, "failures": 0},
            {"name": "glucose", "transport": "ble", "state": "idle",
             "last_seen": seen.isoformat(), "battery_pct": 64, "last_error": None, "failures": 0,
             "assurance": {"status": "out_of_policy", "reasons": ["strips_expired"]}
             if gw.glucometer_unfit else {"status": "ok", "reasons": []}},
        ],
    }  # fmt: skip
    return json.dumps(body).encode()


def _apply_statuses(store: CentralStore, now: datetime, *, away_too: bool) -> None:
    fleet = FleetStore(store.engine)
    for gw in GATEWAYS:
        if away_too or not gw.silent_days:
            status = parse_status(topic_status(gw.gateway_id), _status(gw, now))
            fleet.apply(status, now.timestamp())


async def keep_statuses_fresh(store: CentralStore, every_s: float = 60.0) -> None:
    """The history's gateways that are "online" say so again every minute, as real ones do
    every status interval; without it the fleet page would call them silent after 5 min."""
    while True:
        await asyncio.sleep(every_s)
        await asyncio.to_thread(_apply_statuses, store, datetime.now(UTC), away_too=False)


def seed_history(store: CentralStore, now: datetime) -> int:
    """Store the history (once: a second start finds it stored); returns how many were new."""
    rows = [
        Incoming(r.id, r.gateway_id, r.kind.value, payload["measured_at"], encoded.decode())
        for r in past_readings(now)
        for encoded in (encode_reading(r),)
        for payload in (json.loads(encoded),)
    ]
    stored = 0
    for start in range(0, len(rows), 2000):
        stored += len(store.store(rows[start : start + 2000]))
    _apply_statuses(store, now, away_too=True)
    return stored
