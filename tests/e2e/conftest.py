"""Shared pieces of the end-to-end tests (imported by the test modules): the
gateway under test, central's stored payloads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from central.service import CentralService
from central.store import readings as readings_table
from core.devices import RunnerFactory
from gateway.cli.compose import build_gateway
from gateway.config import Config
from gateway.service import Gateway
from tests.support.clock import FakeClock
from tests.support.harness import wait_for

WITA = ZoneInfo("Asia/Makassar")
# 13:00 WITA (UTC+8), Balikpapan.
NOW = datetime(2026, 11, 27, 5, 0, 0, tzinfo=UTC)


def wita_to_utc(local: datetime) -> datetime:
    return local.replace(tzinfo=WITA).astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    """The payload's time format, spelled out independently of core.payload."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@asynccontextmanager
async def running_gateway(
    config: Config,
    clock: FakeClock,
    factories: dict[str, RunnerFactory] | None = None,
) -> AsyncIterator[tuple[Gateway, asyncio.Task[None]]]:
    gateway = build_gateway(
        config,
        factories=factories,
        maintenance_interval_s=0.5,
        status_file_interval_s=0.2,
        wall_clock=clock,
    )
    task = asyncio.create_task(gateway.run(), name="gateway-under-test")
    try:
        await wait_for(lambda: gateway.ready.is_set() or task.done(), 10, "gateway ready")
        if task.done():
            task.result()
        yield gateway, task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def outbox_settled(gateway: Gateway, task: asyncio.Task[None], total: int) -> bool:
    """Every committed reading confirmed by central, and exactly `total` of them."""
    if task.done():
        task.result()  # surface the gateway's own failure, not a symptom of it
    counts = await gateway.outbox.counts()
    return counts.confirmed == total and counts.unconfirmed == 0 and counts.pending == 0


def central_payloads(central: CentralService) -> list[dict[str, Any]]:
    with central.store.engine.connect() as conn:
        rows = conn.execute(sa.select(readings_table.c.payload)).scalars().all()
    return [json.loads(row) for row in rows]


def by_device_time(payloads: list[dict[str, Any]]) -> dict[tuple[str, str | None], dict[str, Any]]:
    """Payloads keyed by (device id, device time); fails on two readings with the same key."""
    keyed: dict[tuple[str, str | None], dict[str, Any]] = {}
    for payload in payloads:
        key = (payload["device"]["id"], payload["device_time"])
        if key in keyed:
            raise AssertionError(f"two readings at central for {key}")
        keyed[key] = payload
    return keyed
