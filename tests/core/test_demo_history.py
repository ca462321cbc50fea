"""gateway/cli/demo_history.py: the demo's past, stored once, with something on every page."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from central.fleet_views import fleet_list
from central.store import CentralStore
from core.payload import encode_reading
from core.payload_check import check_reading_payload
from gateway.cli.demo_history import GATEWAYS, keep_statuses_fresh, past_readings, seed_history
from tests.support.harness import wait_for

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_the_history_is_valid_payloads_from_every_gateway_but_the_away_kit() -> None:
    readings = past_readings(NOW)
    assert len(readings) > 1000
    for reading in readings[:200]:
        check_reading_payload(encode_reading(reading))  # raises on an invalid payload
    latest = {gw.gateway_id: max(r.measured_at for r in readings if r.gateway_id == gw.gateway_id)
              for gw in GATEWAYS}  # fmt: skip
    assert latest["gw-kit-klandasan"] < NOW - timedelta(days=3)  # away: nothing since
    assert latest["gw-kios-sepinggan"] > NOW - timedelta(days=2)
    assert all(r.measured_at < NOW for r in readings)


def test_a_day_s_readings_are_the_same_whichever_day_the_demo_starts() -> None:
    today = {r.id: r for r in past_readings(NOW)}
    tomorrow = {r.id: r for r in past_readings(NOW + timedelta(days=1))}
    shared = today.keys() & tomorrow.keys()
    assert len(shared) > 0.9 * len(today)
    assert all(today[i] == tomorrow[i] for i in shared)


def test_seeded_once_with_the_fleet_s_alarms(tmp_path: Path) -> None:
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        first = seed_history(store, NOW)
        assert first == store.count() > 1000
        assert seed_history(store, NOW) == 0
        alarms = {r.gateway_id: [a.code for a in r.alarms]
                  for r in fleet_list(store.engine, NOW.timestamp())}  # fmt: skip
    finally:
        store.close()
    assert alarms["gw-kit-klandasan"] == ["offline", "kit_unsynced"]
    assert alarms["gw-kios-sepinggan"] == ["device_check:glucose"]
    assert alarms["gw-kios-klandasan"] == alarms["gw-kit-sepinggan"] == []


async def test_the_online_ones_keep_saying_so(tmp_path: Path) -> None:
    store = await asyncio.to_thread(CentralStore, f"sqlite:///{tmp_path / 'central.db'}")
    try:
        await asyncio.to_thread(seed_history, store, NOW)  # statuses as of 2 December
        task = asyncio.create_task(keep_statuses_fresh(store, every_s=0.01), name="fresh")

        async def fresh() -> bool:
            rows = await asyncio.to_thread(fleet_list, store.engine, time.time())
            return all(
                "not_seen" not in [a.code for a in r.alarms]
                for r in rows
                if r.gateway_id != "gw-kit-klandasan"
            )

        try:
            await wait_for(fresh, 10, "the online gateways heard from again")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        rows = await asyncio.to_thread(fleet_list, store.engine, time.time())
        away = next(r for r in rows if r.gateway_id == "gw-kit-klandasan")
        assert away.state == "offline"  # the away kit stays away
    finally:
        await asyncio.to_thread(store.close)
