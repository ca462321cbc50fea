"""Accounts, a clock and a migrated database for the web app's tests."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import orjson
import paho.mqtt.client as paho
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion

from central.fleet_store import SCHEMA_STATUS
from central.store import upgrade_schema
from central.web.accounts import AccountStore
from central.web.auth import Role
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
    reading_id,
)
from core.sealing import seal
from core.topics import PREFIX, parse_receipt, topic_readings, topic_status
from tests.support.clock import FakeClock

PASSWORD = "kata-sandi-benar-1"
WILAYAH_A = ("6471011001", "6471011002")
WILAYAH_B = ("6471021001",)


class EpochClock:
    """The web app's clock (epoch seconds) over the tests' one fake wall clock."""

    def __init__(self) -> None:
        self.fake = FakeClock()

    def __call__(self) -> float:
        return self.fake().timestamp()

    def advance(self, seconds: float) -> None:
        self.fake.advance(seconds)


@contextmanager
def migrated(url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(url)
    try:
        upgrade_schema(engine)
        yield engine
    finally:
        engine.dispose()


def add_staff(accounts: AccountStore) -> None:
    """One account per role: dinkes `dina`, puskesmas `budi` (wilayah A), coordinator `citra`
    (wilayah B)."""
    accounts.add("dina", PASSWORD, Role.DINKES)
    accounts.add("budi", PASSWORD, Role.PUSKESMAS, puskesmas_id="pkm-a", wilayah=WILAYAH_A)
    accounts.add("citra", PASSWORD, Role.COORDINATOR, wilayah=WILAYAH_B)


@dataclass
class Served:
    url: str
    app: FastAPI


@contextmanager
def serve(app: FastAPI) -> Iterator[Served]:
    """The app under a real uvicorn on a free loopback port, in a thread of its own."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(server.serve(),), name="central-web-uvicorn"
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started"
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            time.sleep(0.02)
        yield Served(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(15)
        loop.close()


# --- the roles' browser walk (test_roles_browser.py): a city, its gateways, its screenings ---

ROLES_WILAYAH_TOML = """
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
target_15_plus = 800

[[kelurahan]]
code = "6471011002"
name = "Damai"
kecamatan = "647101"
target_15_plus = 200

[[kelurahan]]
code = "6471021001"
name = "Manggar"
kecamatan = "647102"
target_15_plus = 300

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

# gateway -> (its site, its kind), as each gateway states in its retained status.
ROLES_GATEWAYS = {
    "gw-sep-kios": ("kios-sepinggan", "kiosk"),
    "gw-sep-kit": ("kit-sepinggan", "kit"),
    "gw-damai": ("kios-damai", "kiosk"),
    "gw-manggar": ("kios-manggar", "kiosk"),
}


@dataclass(frozen=True, slots=True)
class Screening:
    """One reading of a resident (None: an unbound reading) at a gateway, on 14 October 2026."""

    who: str | None
    gateway: str
    hour: int  # UTC; WITA is UTC+8, so 01..07 is the same local day
    bp: tuple[float, float] | None = None
    glucose: float | None = None
    fasting: bool = False
    sex: str | None = None  # "female" / "male"; None with v1
    band: str | None = None
    v1: bool = False  # a gateway not yet updated: schema 1, no sex, band or region
    nik: str | None = None  # sealed to central's key at "the kiosk"


# The expected counts in test_roles_browser.py are worked out by hand from this table.
ROLES_SCREENINGS = (
    # Sepinggan, the kiosk: a crisis (urgent, grade 3), an optimal, a grade 1 with borderline
    # random glucose; and an unbound reading that counts for nobody.
    Screening("sari", "gw-sep-kios", 1, bp=(185, 105), sex="female", band="40-49",
              nik="6471014101900002"),
    Screening("rina", "gw-sep-kios", 2, bp=(118, 76), sex="female", band="20-29"),
    Screening("joko", "gw-sep-kios", 3, bp=(145, 92), sex="male", band="60-69"),
    Screening("joko", "gw-sep-kios", 3, glucose=95, sex="male", band="60-69"),
    Screening(None, "gw-sep-kios", 4, bp=(200, 130)),
    # Sepinggan, the kader's kit: suspected diabetes on a fasting test.
    Screening("agus", "gw-sep-kit", 2, glucose=130, fasting=True, sex="male", band="50-59"),
    # Damai: a grade 2; a normal BP with borderline random glucose.
    Screening("dewi", "gw-damai", 1, bp=(165, 102), sex="female", band="30-39"),
    Screening("eko", "gw-damai", 2, bp=(124, 78), sex="male", band="15-19"),
    Screening("eko", "gw-damai", 2, glucose=110, sex="male", band="15-19"),
    # Manggar: hypoglycaemia (urgent), a high-normal BP, a grade 1 from a v1 gateway.
    Screening("tini", "gw-manggar", 1, glucose=60, sex="female", band="50-59"),
    Screening("hadi", "gw-manggar", 2, bp=(132, 86), sex="male", band="40-49"),
    Screening("wati", "gw-manggar", 3, bp=(150, 95), v1=True),
)  # fmt: skip


def roles_pseudonym(who: str) -> str:
    return hashlib.sha256(f"roles:{who}".encode()).hexdigest()


def roles_payloads(public_key: bytes) -> list[tuple[str, str, bytes]]:
    """(gateway, reading id, payload bytes) of every screening, as each gateway would publish."""
    out = []
    for n, s in enumerate(ROLES_SCREENINGS):
        device = DeviceIdentity(Transport.SIMULATED, f"dev-{s.gateway}", "Test", "T1", "SN1", "1")
        values: BloodPressure | Glucose
        if s.bp is not None:
            kind, values = Kind.BLOOD_PRESSURE, BloodPressure(s.bp[0], s.bp[1], None, 72.0)
        else:
            kind = Kind.GLUCOSE
            values = Glucose(s.glucose, meal="fasting" if s.fasting else "casual")
        subject = None
        if s.who is not None:
            subject = Subject(
                roles_pseudonym(s.who),
                sealed_nik=seal(s.nik, public_key) if s.nik else None,
                region=None if s.v1 else "647101",
                sex=None if s.sex is None else Sex(s.sex),
                age_band=s.band,
            )
        site, _kind = ROLES_GATEWAYS[s.gateway]
        reading = Reading(
            id=reading_id(device, str(n)),
            kind=kind,
            gateway_id=s.gateway,
            device=device,
            record_key=str(n),
            measured_at=datetime(2026, 10, 14, s.hour, n, tzinfo=UTC),
            time_quality=TimeQuality.DEVICE_CLOCK,
            values=values,
            site_id=site,
            subject=subject,
            bound=subject is not None,
        )
        data = to_payload(reading)
        if s.v1:
            data["schema"] = SCHEMA_READING_V1
            data.pop("assurance")
            for key in ("region", "sex", "age_band"):
                data["subject"].pop(key)
        out.append((s.gateway, reading.id, orjson.dumps(data)))
    return out


def publish_screenings(broker_url: str, public_key: bytes, timeout_s: float = 30.0) -> int:
    """Each gateway's retained online status, then its readings at QoS 1, over the real broker;
    returns once central has sent a receipt for every reading (stored and committed)."""
    parts = urlsplit(broker_url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="roles-gateways")
    receipted: set[str] = set()
    lock = threading.Lock()

    def on_message(_c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        with lock:
            receipted.update(parse_receipt(msg.payload))

    client.on_message = on_message
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    try:
        subscribed = client.subscribe(f"{PREFIX}/+/receipts", qos=1)
        assert subscribed[0] == paho.MQTT_ERR_SUCCESS
        now = time.time()
        for gateway, (site, kind) in ROLES_GATEWAYS.items():
            status = {
                "schema": SCHEMA_STATUS, "gateway_id": gateway, "state": "online", "at": now,
                "site_id": site, "kind": kind, "version": "test",
            }  # fmt: skip
            client.publish(topic_status(gateway), orjson.dumps(status), qos=1, retain=True)
        # The receipts subscription must be in place before the first reading goes.
        time.sleep(0.3)
        sent = roles_payloads(public_key)
        for gateway, _id, payload in sent:
            client.publish(topic_readings(gateway), payload, qos=1).wait_for_publish(10)
        wanted = {reading for _gw, reading, _p in sent}
        deadline = time.monotonic() + timeout_s
        while True:
            with lock:
                if wanted <= receipted:
                    return len(wanted)
            assert time.monotonic() < deadline, f"receipts for {len(receipted)}/{len(wanted)}"
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
