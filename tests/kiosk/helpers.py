"""Shared builders for the kiosk tests: a controllable clock, settings, deps and readings."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from core.events import EventBus, ReadingStored
from core.reading import (
    BloodPressure,
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    TimeQuality,
    Transport,
    reading_id,
)
from kiosk.app import create_app
from kiosk.binding import SessionBinder
from kiosk.deps import KioskDeps, KioskSettings
from kiosk.privacy import KeyPair, generate_keypair
from kiosk.security import hash_secret
from tests.support.clock import FakeClock

PROGRAMME_KEY = b"gempita-test-programme-key-32byt"
ADMIN_PASSWORD = "operator-sandi-123"
KADER_PIN = "482913"
# Valid test NIKs: Balikpapan man born 17-08-1985; Jakarta woman born 03-02-2000 (day + 40);
# a Balikpapan 16-year-old (born 12-05-2010).
NIK_MAN = "6471031708850003"
NIK_WOMAN = "3171044302000121"
NIK_MINOR = "6471021205100007"

_KEYS: KeyPair | None = None
_ADMIN_HASH: str | None = None
_PIN_HASH: str | None = None


def central_keys() -> KeyPair:
    global _KEYS
    if _KEYS is None:
        _KEYS = generate_keypair()
    return _KEYS


def _hashes() -> tuple[str, str]:
    # scrypt is deliberately slow: hash once per test run.
    global _ADMIN_HASH, _PIN_HASH
    if _ADMIN_HASH is None or _PIN_HASH is None:
        _ADMIN_HASH = hash_secret(ADMIN_PASSWORD)
        _PIN_HASH = hash_secret(KADER_PIN)
    return _ADMIN_HASH, _PIN_HASH


class LiveClock(FakeClock):
    """Real time (for browser tests whose timers run in the page), still advanceable."""

    def __init__(self) -> None:
        super().__init__()
        self._offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)

    @property
    def now(self) -> datetime:
        return self()

    @now.setter
    def now(self, value: datetime) -> None:
        pass  # FakeClock.__init__ sets a start time; live time ignores it


def make_settings(**overrides: Any) -> KioskSettings:
    admin_hash, pin_hash = _hashes()
    values: dict[str, Any] = {
        "site_name": "Kios Karang Jati",
        "kiosk_id": "kiosk-kj-01",
        "puskesmas_name": "Puskesmas Karang Jati",
        "puskesmas_address": "Jl. Jend. Sudirman, Balikpapan Tengah",
        "programme_key": PROGRAMME_KEY,
        "central_public_key": central_keys().public_key,
        "admin_password_hash": admin_hash,
        "kader_pin_hashes": {"kader01": pin_hash},
        "puskesmas_phone": "0542-000000",
    }
    values.update(overrides)
    return KioskSettings(**values)


@dataclass
class Rig:
    clock: FakeClock
    deps: KioskDeps
    app: FastAPI
    sync: dict[str, Any] = field(default_factory=lambda: {"pending": 2, "confirmed": 40})
    requested: list[str] = field(default_factory=list)
    paired: list[str] = field(default_factory=list)

    @property
    def binder(self) -> SessionBinder:
        return self.deps.binder

    @property
    def events(self) -> EventBus:
        return self.deps.events

    async def deliver(self, device_name: str, reading: Reading) -> Reading:
        """What the gateway does: bind, commit (durable), then announce ReadingStored."""
        bound = self.binder.bind(device_name, reading)
        self.events.publish(ReadingStored(device_name, bound))
        await settle()
        return bound


async def settle() -> None:
    """Let the app's event consumer task run (it wakes a few loop iterations later)."""
    for _ in range(20):
        await asyncio.sleep(0)


def make_rig(clock: FakeClock | None = None, **overrides: Any) -> Rig:
    clock = clock or FakeClock()
    rig_box: list[Rig] = []

    def sync_state() -> dict[str, Any]:
        return rig_box[0].sync

    def device_status() -> list[dict[str, Any]]:
        return [
            {"name": "bp", "kind": "blood_pressure", "state": "idle", "battery_pct": 80},
            {"name": "glucose", "kind": "glucose", "state": "error", "last_error": "timeout"},
        ]

    def pair() -> str:
        rig_box[0].paired.append("x")
        return "scanning 30 s"

    deps = KioskDeps(
        settings=make_settings(**overrides),
        binder=SessionBinder(clock),
        events=EventBus(),
        sync_state=sync_state,
        device_status=device_status,
        request_measurement=lambda kind: rig_box[0].requested.append(kind),
        start_pairing=pair,
        clock=clock,
    )
    rig = Rig(clock=clock, deps=deps, app=create_app(deps))
    rig_box.append(rig)
    return rig


@asynccontextmanager
async def running(rig: Rig, client_ip: str = "10.42.0.20") -> AsyncIterator[httpx.AsyncClient]:
    async with rig.app.router.lifespan_context(rig.app), client_for(rig, client_ip) as client:
        yield client


def client_for(rig: Rig, client_ip: str = "10.42.0.20") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=rig.app, client=(client_ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://gempita.lan")


DEVICE_BP = DeviceIdentity(Transport.BLE, "AA:BB:CC:00:00:01", "Omron", "HEM-7600T", "BP123")
DEVICE_GLU = DeviceIdentity(Transport.BLE, "AA:BB:CC:00:00:02", "Roche", "Guide", "GLU77")


def bp_reading(
    at: datetime,
    systolic: float | None,
    diastolic: float | None,
    pulse: float | None = 72,
    *,
    quality: TimeQuality = TimeQuality.SYNCED,
    key: str | None = None,
) -> Reading:
    values = BloodPressure(systolic, diastolic, None, pulse)
    return Reading(
        id=reading_id(DEVICE_BP, key or f"{at.isoformat()}|{systolic}|{diastolic}"),
        kind=Kind.BLOOD_PRESSURE,
        gateway_id="kiosk-kj-01",
        device=DEVICE_BP,
        record_key=key,
        measured_at=at,
        time_quality=quality,
        values=values,
        received_at=at,
        site_id="karang-jati",
    )


def glucose_reading(
    at: datetime,
    mgdl: float | None,
    *,
    hi: bool = False,
    lo: bool = False,
    seq: int = 1,
    control: bool = False,
    received_at: datetime | None = None,
) -> Reading:
    values = Glucose(mgdl, original_value=mgdl, hi=hi, lo=lo, control_solution=control)
    return Reading(
        id=reading_id(DEVICE_GLU, str(seq)),
        kind=Kind.GLUCOSE,
        gateway_id="kiosk-kj-01",
        device=DEVICE_GLU,
        record_key=str(seq),
        measured_at=at,
        time_quality=TimeQuality.DEVICE_CLOCK,
        values=values,
        received_at=received_at or at,
        site_id="karang-jati",
    )


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


async def follow(client: httpx.AsyncClient, response: httpx.Response) -> httpx.Response:
    """Follow 303s by hand (the ASGI transport client is created without auto-follow)."""
    while response.status_code in (302, 303):
        response = await client.get(response.headers["location"])
    return response


async def post(
    client: httpx.AsyncClient, path: str, data: dict[str, str], page: str | None = None
) -> httpx.Response:
    if page is not None:
        data = {"csrf": csrf_of(page), **data}
    return await follow(client, await client.post(path, data=data))
