"""A full state disk, for real: the gateway's state directory on a small tmpfs (item 14).

The real `gempita run` streams a simulated monitor's readings into an outbox on a 3 MB tmpfs
until SQLite and the status file hit ENOSPC. The process must stay up, keep the storage_error
alarm visible (`gempita status --json` and the retained status topic), and once the tmpfs is
grown (space returns) deliver every reading exactly once and clear the alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.outbox_store import OutboxStore
from tests.support.harness import running_central, wait_for
from tests.support.mosquitto import Mosquitto
from tests.support.processes import ROOT, gateway_process, write_gateway_config

RECORDS = 4000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "state"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def gempita_status(config: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "status", "--config", str(config), "--json"],
        capture_output=True,
        cwd=ROOT,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return dict(json.loads(done.stdout))


class RetainedStatus:
    def __init__(self, port: int) -> None:
        self.latest: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe("gempita/v1/gw-001/status", qos=1)

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        with self.lock:
            self.latest = json.loads(msg.payload)

    def alarms(self) -> list[str]:
        with self.lock:
            return list(self.latest.get("alarms", []))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def test_full_state_disk_refuses_readings_stays_up_and_recovers(
    tmp_path: Path, mosquitto: Mosquitto, small_disk: Path
) -> None:
    config = write_gateway_config(
        tmp_path / "gateway.toml", small_disk, mosquitto.url, device_records=RECORDS
    )
    gateway = gateway_process(config, tmp_path / "gateway.log").start()
    retained = RetainedStatus(mosquitto.port)
    try:
        async with running_central(mosquitto.url, tmp_path / "central.db") as central:
            await asyncio.to_thread(gateway.wait_for_log, "disk or size cap is full", 60)
            # Full: the process stays up for a good while and says why, everywhere.
            for _ in range(8):
                await asyncio.sleep(1.0)
                assert gateway.alive, gateway.text()[-4000:]
            status = await asyncio.to_thread(gempita_status, config)
            assert status["running"], status
            assert any(a.startswith("storage_error") for a in status["alarms"]), status
            await wait_for(
                lambda: any(a.startswith("storage_error") for a in retained.alarms()),
                10,
                "storage_error on the retained status topic",
            )
            df = subprocess.run(["df", "-k", str(small_disk)], capture_output=True, check=True)
            print(df.stdout.decode())
            # Space returns.
            subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
            store = OutboxStore(small_disk / "outbox.db", exclusive=False)
            await asyncio.to_thread(store.open)  # a read-only look, off the loop
            try:

                async def delivered() -> bool:
                    counts = await asyncio.to_thread(store.counts)
                    return counts.confirmed == RECORDS and counts.unconfirmed == 0

                await wait_for(delivered, 90, "every reading delivered after space returned")
            finally:
                await asyncio.to_thread(store.close)
            assert central.store.count() == RECORDS
            assert len(central.store.ids()) == RECORDS
            await wait_for(lambda: not retained.alarms(), 20, "alarms cleared on the topic")
            status = await asyncio.to_thread(gempita_status, config)
            assert status["running"] and not status["alarms"], status
            assert gateway.alive
            assert "Traceback" not in gateway.text()
    finally:
        gateway.stop()
        retained.close()


def test_status_file_is_still_written_when_the_disk_is_full(small_disk: Path) -> None:
    from gateway.service import write_status_text

    path = small_disk / "status.json"
    write_status_text(path, json.dumps({"state": "running", "n": 1}))
    # Fill the tmpfs to the last byte.
    with (small_disk / "filler").open("wb", buffering=0) as filler, contextlib.suppress(OSError):
        while True:
            filler.write(b"\0" * 4096)
    with pytest.raises(OSError):
        (small_disk / "probe").write_bytes(b"x" * 8192)
    body = json.dumps({"state": "running", "n": 2, "alarms": ["storage_error: full"]})
    write_status_text(path, body)
    assert json.loads(path.read_text()) == json.loads(body)
    assert not (small_disk / "status.tmp").exists()
