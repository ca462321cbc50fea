"""kill -9 the real `gempita run` process at random moments, 20+ times, while it drains and
while a device keeps committing: every reading reaches central exactly once after dedup."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from core.reading import BloodPressure, DeviceIdentity, Kind, Transport, reading_id
from gateway.outbox_store import OutboxStore
from simulators.synthetic import synthetic_values
from tests.core.test_delivery import prefill
from tests.support.harness import gateway_config, running_central, wait_for
from tests.support.mosquitto import Mosquitto

KILLS = 20
PREFILLED = 20_000
DEVICE_RECORDS = 3_000


def write_config(path: Path, state_dir: Path, broker_url: str) -> None:
    path.write_text(
        f"""
[gateway]
id = "gw-001"
site_id = "kill-test"
state_dir = "{state_dir}"

[outbox]
synchronous = "full"

[mqtt]
url = "{broker_url}"
window = 500
backoff_initial_s = 0.05
backoff_max_s = 0.2

[[devices]]
name = "bp-kill"
transport = "simulated"
kind = "blood_pressure"
options = {{ rate_per_s = 1500, batch = 15, count = {DEVICE_RECORDS} }}
"""
    )


def start_gateway(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--config", str(config_path)],
            stdout=handle,
            stderr=handle,
            cwd=Path(__file__).resolve().parents[2],
        )


async def test_sigkill_twenty_times_during_drain(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str
) -> None:
    state = tmp_path / "gw"
    config = gateway_config(state, mosquitto.url)
    ids = await prefill(config, PREFILLED)
    config_path = tmp_path / "gateway.toml"
    write_config(config_path, state, mosquitto.url)
    log = tmp_path / "gateway.log"
    rng = random.Random(20261127)
    async with running_central(mosquitto.url, central_db_url) as central:
        progress = []
        for _ in range(KILLS):
            proc = start_gateway(config_path, log)
            # Let it get somewhere (import, open, connect, publish a while), then kill -9.
            await asyncio.sleep(rng.uniform(0.5, 1.5))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            progress.append(central.stats.stored)
        # Kills must have landed mid-drain, not after it finished.
        print("central stored after each kill:", progress)
        assert progress[0] < PREFILLED
        proc = start_gateway(config_path, log)
        try:
            store = OutboxStore(config.outbox_path, exclusive=False)
            await asyncio.to_thread(store.open)  # a read-only look, off the loop

            async def done() -> bool:
                counts = await asyncio.to_thread(store.counts)
                return counts.unconfirmed == 0 and counts.confirmed == PREFILLED + DEVICE_RECORDS

            try:
                await wait_for(done, 120, "all readings confirmed after 20 kills")
            finally:
                await asyncio.to_thread(store.close)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        # The device's records: generated once each, resumed from the committed cursor.
        device = DeviceIdentity(
            Transport.SIMULATED, "bp-kill", "Gempita", "synthetic-blood_pressure", "SIM-bp-kill"
        )
        device_ids = {reading_id(device, str(n)) for n in range(1, DEVICE_RECORDS + 1)}
        stored = central.store.ids()
        assert stored == ids | device_ids
        assert central.store.count() == PREFILLED + DEVICE_RECORDS
        # The stored values are the device's own, not regenerated differently after a restart.
        with central.store.engine.connect() as conn:
            payload = conn.execute(
                sa.text("SELECT payload FROM readings WHERE id = :id"),
                {"id": reading_id(device, "1234")},
            ).scalar_one()
        values = json.loads(payload)["values"]
        expected = synthetic_values("bp-kill", Kind.BLOOD_PRESSURE, 1234)
        assert isinstance(expected, BloodPressure)
        assert values["systolic_mmhg"] == expected.systolic_mmhg
