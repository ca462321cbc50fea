"""Known screenings for the cascade's tests: seven residents in December 2026, on v1 and v2
payloads, at four sites of three kelurahan and at one gateway whose site is in no kelurahan.

The expected counts in the tests are worked out by hand from the table below, not computed.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import sqlalchemy as sa

from central.fleet_store import fleet_gateways
from central.referrals import ReferralBook, referrals
from central.store import CentralStore, Incoming
from central.wilayah import Wilayah, parse_wilayah
from core.payload import to_payload
from core.reading import (
    SCHEMA_READING_V1,
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

# Also written to a file for `gempita central` ([web] wilayah_file) in the browser test.
WILAYAH_TOML = """
[[kecamatan]]
code = "647101"
name = "Balikpapan Selatan"

[[kecamatan]]
code = "647102"
name = "Balikpapan Timur"

[[kelurahan]]
code = "6471011001"
name = "Sepinggan"
kecamatan = "647101"
target_15_plus = 1000

[[kelurahan]]
code = "6471011002"
name = "Damai"
kecamatan = "647101"

[[kelurahan]]
code = "6471021001"
name = "Manggar"
kecamatan = "647102"
target_15_plus = 500

[[site]]
id = "kios-sepinggan"
name = "Kios Sepinggan"
kelurahan = "6471011001"

[[site]]
id = "kit-sepinggan"
name = "Kit kader Sepinggan"
kelurahan = "6471011001"

[[site]]
id = "kios-damai"
name = "Kios Damai"
kelurahan = "6471011002"

[[site]]
id = "kios-manggar"
name = "Kios Manggar"
kelurahan = "6471021001"
"""
WILAYAH: Wilayah = parse_wilayah(tomllib.loads(WILAYAH_TOML))

# gateway -> its site in the fleet table ("kios-luar" is in no [[site]] of the file).
GATEWAYS = {
    "gw-sep-kios": "kios-sepinggan",
    "gw-sep-kit": "kit-sepinggan",
    "gw-damai": "kios-damai",
    "gw-manggar": "kios-manggar",
    "gw-luar": "kios-luar",
}


def pseudonym(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Seed:
    who: str | None  # None: an unbound reading
    gateway: str
    at: datetime  # UTC
    bp: tuple[float, float] | None = None
    glucose: float | None = None
    meal: str | None = None
    hi: bool = False
    control: bool = False
    v1: bool = False
    sex: Sex | None = None
    band: str | None = None
    region: str | None = None


def _utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


F, M = Sex.FEMALE, Sex.MALE
# WITA is UTC+8: 01:00Z on 2 December is 09:00 in Balikpapan.
SEEDS = (
    # P1: high, then a rested normal value at the kiosk; a fasting test at the kit.
    Seed("P1", "gw-sep-kios", _utc(2026, 12, 2, 1, 0), bp=(150, 95), sex=F, band="40-49",
         region="647101"),
    Seed("P1", "gw-sep-kios", _utc(2026, 12, 2, 1, 10), bp=(128, 82), sex=F, band="40-49",
         region="647101"),
    Seed("P1", "gw-sep-kit", _utc(2026, 12, 2, 2, 0), glucose=95, meal="fasting", sex=F,
         band="40-49", region="647101"),
    # P1 in November: in the year, not in the month.
    Seed("P1", "gw-sep-kios", _utc(2026, 11, 15, 1, 0), bp=(170, 105), sex=F, band="40-49",
         region="647101"),
    # P2: hypertensive crisis; a control-solution test under their session does not count.
    Seed("P2", "gw-sep-kios", _utc(2026, 12, 2, 3, 0), bp=(185, 100), sex=M, band="50-59",
         region="647106"),
    Seed("P2", "gw-sep-kios", _utc(2026, 12, 2, 3, 5), glucose=400, control=True, sex=M,
         band="50-59", region="647106"),
    # P3: grade 2 from a gateway not yet updated (v1: no sex, band or region).
    Seed("P3", "gw-damai", _utc(2026, 12, 2, 4, 0), bp=(165, 102), v1=True),
    # P4: the meter read HI.
    Seed("P4", "gw-manggar", _utc(2026, 12, 2, 5, 0), glucose=None, hi=True, sex=F,
         band="15-19", region="647102"),
    # P5: at a gateway whose site is in no kelurahan.
    Seed("P5", "gw-luar", _utc(2026, 12, 2, 6, 0), bp=(118, 76), sex=M, band="60-69",
         region="647101"),
    # P6: hypoglycaemia on a random test.
    Seed("P6", "gw-sep-kios", _utc(2026, 12, 2, 7, 0), glucose=60, meal="casual", sex=F,
         band="30-39", region="647101"),
    # P7: 00:30 on 1 December in Balikpapan, still 30 November in UTC.
    Seed("P7", "gw-damai", _utc(2026, 11, 30, 16, 30), bp=(135, 70), sex=M, band="20-29",
         region="647101"),
    # P8: 23:30 on 30 November in Balikpapan: not in December.
    Seed("P8", "gw-damai", _utc(2026, 11, 30, 15, 30), bp=(120, 80), sex=M, band="20-29",
         region="647101"),
    # An unbound reading (no resident): never counted.
    Seed(None, "gw-sep-kios", _utc(2026, 12, 2, 8, 0), bp=(200, 130)),
)  # fmt: skip


def _payload(n: int, s: Seed) -> str:
    device = DeviceIdentity(Transport.SIMULATED, "dev-1", "Test", "T1", "SN1", "1.0")
    values: BloodPressure | Glucose
    if s.bp is not None:
        values = BloodPressure(s.bp[0], s.bp[1], None, 72.0)
        kind = Kind.BLOOD_PRESSURE
    else:
        values = Glucose(s.glucose, meal=s.meal, hi=s.hi, control_solution=s.control)
        kind = Kind.GLUCOSE
    subject = (
        None
        if s.who is None
        else Subject(pseudonym(s.who), region=s.region, sex=s.sex, age_band=s.band)
    )
    reading = Reading(
        id=f"seed-{n}",
        kind=kind,
        gateway_id=s.gateway,
        device=device,
        record_key=str(n),
        measured_at=s.at,
        time_quality=TimeQuality.DEVICE_CLOCK,
        values=values,
        site_id=GATEWAYS[s.gateway],
        subject=subject,
        bound=subject is not None,
    )
    data = to_payload(reading)
    if s.v1:
        data["schema"] = SCHEMA_READING_V1
        data.pop("assurance")
        if data["subject"] is not None:
            for key in ("region", "sex", "age_band"):
                data["subject"].pop(key)
    return orjson.dumps(data).decode()


def seed(url: str) -> None:
    """Store the seeds through central's own store and place their gateways in the fleet."""
    store = CentralStore(url)
    try:
        batch = []
        for n, s in enumerate(SEEDS):
            payload = _payload(n, s)
            data = orjson.loads(payload)
            # As central's service builds it from a payload it accepted.
            batch.append(
                Incoming(data["id"], s.gateway, data["kind"], data["measured_at"], payload)
            )
        assert len(store.store(batch)) == len(SEEDS)
        with store.engine.begin() as conn:
            conn.execute(
                sa.insert(fleet_gateways),
                [
                    {
                        "gateway_id": gw,
                        "kind": "kiosk",
                        "site_id": site,
                        "state": "online",
                        "last_seen": 0.0,
                        "state_since": 0.0,
                        "reported_alarms": "[]",
                        "devices": "[]",
                        "alarms": "[]",
                    }
                    for gw, site in GATEWAYS.items()
                ],
            )
    finally:
        store.close()


# How far the worklist got with each resident's referral, worked by hand below: P1's referral
# opened on their November grade 2 and their December 150/95 joined it; P3 was never reached;
# P4 (Manggar) and P2 confirmed; P6 came but was not confirmed. P5, P7 and P8 had nothing to
# refer. In December: referred P1 P2 P4 P6, came P2 P4 P6, confirmed P2 P4.
FOLLOW_UPS = {
    "P1": ("contacted",),
    "P2": ("contacted", "came", "confirmed"),
    "P3": ("unreachable",),
    "P4": ("contacted", "came", "confirmed"),
    "P6": ("contacted", "came", "not_confirmed"),
}
# 3 December 2026, 10:00 WITA: after every seeded reading.
FOLLOW_UP_AT = datetime(2026, 12, 3, 2, 0, tzinfo=UTC).timestamp()


def follow_up(url: str) -> None:
    """File the seeds' referrals through central's own worklist and work them as above."""
    engine = sa.create_engine(url)
    try:
        book = ReferralBook(engine, lambda: FOLLOW_UP_AT, WILAYAH)
        book.refresh()
        with engine.connect() as conn:
            ids = {
                str(p): int(i)
                for i, p in conn.execute(sa.select(referrals.c.id, referrals.c.pseudonym))
            }
        assert len(ids) == len(FOLLOW_UPS)  # one referral each, nobody else's
        for who, steps in FOLLOW_UPS.items():
            for step in steps:
                book.change(ids[pseudonym(who)], step, "seed")
    finally:
        engine.dispose()
