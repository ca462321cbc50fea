"""Helpers to run the real gateway and the real central service inside a test."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from central.service import CentralService
from central.store import CentralStore
from core.backoff import Backoff
from core.mqtt import BrokerSettings
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
from gateway.config import Config, parse_config


def gateway_config(state_dir: Path, broker_url: str, **sections: Any) -> Config:
    data: dict[str, Any] = {
        "gateway": {"id": "gw-001", "site_id": "test-site", "state_dir": str(state_dir)},
        "mqtt": {
            "url": broker_url,
            "backoff_initial_s": 0.05,
            "backoff_max_s": 0.5,
            "status_interval_s": 1.0,
        },
    }
    for name, values in sections.items():
        if name == "devices":
            data["devices"] = values
        else:
            data.setdefault(name, {}).update(values)
    return parse_config(data)


def make_reading(
    n: int, *, kind: Kind = Kind.BLOOD_PRESSURE, gateway_id: str = "gw-001"
) -> Reading:
    device = DeviceIdentity(Transport.SIMULATED, "test-dev", "Test", "T1", "SN1", "1.0")
    values: BloodPressure | Glucose = (
        BloodPressure(120.0 + n % 50, 80.0, 93.3, 70.0)
        if kind is Kind.BLOOD_PRESSURE
        else Glucose(90.0 + n % 100)
    )
    return Reading(
        id=reading_id(device, str(n)),
        kind=kind,
        gateway_id=gateway_id,
        device=device,
        record_key=str(n),
        measured_at=datetime(2026, 11, 1, 8, 0, tzinfo=UTC) + timedelta(seconds=n),
        time_quality=TimeQuality.DEVICE_CLOCK,
        values=values,
        device_time="2026-11-01T16:00:00",
        clock_offset_s=1.5,
    )


async def wait_for(
    predicate: Callable[[], Awaitable[bool]] | Callable[[], bool],
    timeout: float = 20.0,
    what: str = "condition",
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def store_url(db: Path | str) -> str:
    """A SQLAlchemy URL for central's store: a Path is a SQLite file, a str already a URL."""
    return f"sqlite:///{db}" if isinstance(db, Path) else db


@contextlib.asynccontextmanager
async def running_central(
    broker_url: str, db: Path | str, **settings: Any
) -> AsyncIterator[CentralService]:
    """Central in this event loop; `db` is a SQLite file or a store URL (`central_db_url`)."""
    # The store opens (and migrates) the database: keep that off the event loop, as
    # `gempita central` does.
    store = await asyncio.to_thread(CentralStore, store_url(db))
    service = CentralService(
        store,
        BrokerSettings(
            url=broker_url,
            client_id=settings.pop("client_id", "central-test"),
            session_expiry_s=settings.pop("session_expiry_s", 3600),
            **settings,
        ),
        backoff=Backoff(initial_s=0.05, cap_s=0.5),
    )
    task = asyncio.create_task(service.run(), name="central")
    try:
        await wait_for(lambda: service.ready.is_set() or task.done(), 10, "central ready")
        if task.done():
            task.result()
        yield service
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(store.close)
