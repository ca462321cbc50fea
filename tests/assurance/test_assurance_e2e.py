"""Issue 14 item 4 end to end: a real `gempita run` reads a simulated BLE glucometer whose
memory holds a control-solution test outside the vial's range, then a resident's test. Both
reach central (never dropped); the resident reading carries assurance out_of_policy with
control_failed; the retained status topic and `gempita status` show the device's verdict; the
control test is in the gateway's QC log."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.harness import running_central, wait_for
from tests.support.mosquitto import Mosquitto
from tests.support.processes import gateway_process

ROOT = Path(__file__).resolve().parents[2]
WITA = ZoneInfo("Asia/Makassar")


def device_local(minutes_ago: float) -> str:
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return moment.astimezone(WITA).replace(tzinfo=None, microsecond=0).isoformat()


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

    def device(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            found = [d for d in self.latest.get("devices", []) if d.get("name") == name]
        return found[0] if found else None

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def gempita_status(config: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "status", "--config", str(config), "--json"],
        capture_output=True, cwd=ROOT, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return dict(json.loads(done.stdout))


def write_book(path: Path) -> None:
    """What the kader entered from the strip box and the control vial: all in date."""
    path.write_text(json.dumps({"version": 1, "devices": {"meter": {"entries": {
        "calibration_due": None, "strip_lot": "S-2611", "strip_expires": "2099-01-31",
        "control": {"low_mgdl": 100, "high_mgdl": 140, "lot": "CV-7", "expires": "2099-03-01"},
    }, "qc": []}}}))


async def test_a_failed_control_flags_the_next_reading_at_central_and_in_status(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    state = tmp_path / "gw"
    state.mkdir()
    write_book(state / "assurance.json")
    (tmp_path / "meter.toml").write_text(f"""
profile = "glucose"
name = "Contour7830H5000888"
serial = "7830H5000888"

[[records]]
glucose = 180
flags = ["control_solution"]
at = {device_local(120)}

[[records]]
glucose = 115
meal = "fasting"
at = {device_local(60)}
""")
    config = tmp_path / "gateway.toml"
    config.write_text(f"""
[gateway]
id = "gw-001"
site_id = "assurance-test"
state_dir = "{state}"

[mqtt]
url = "{mosquitto.url}"
backoff_initial_s = 0.05
backoff_max_s = 0.5
status_interval_s = 0.5

[assurance]
enabled = true
control_every_days = 7

[[devices]]
name = "meter"
transport = "simulated"
options = {{ scenario = "meter.toml", poll_s = 0.5, retry_initial_s = 0.2, retry_max_s = 1 }}
""")
    retained = RetainedStatus(mosquitto.port)
    try:
        async with running_central(mosquitto.url, tmp_path / "central.db") as central:
            gateway = gateway_process(config, tmp_path / "gateway.log").start()
            try:
                def arrived() -> bool:
                    assert gateway.alive, gateway.text()[-4000:]
                    return central.store.count() >= 2

                await wait_for(arrived, 60, "both records at central")

                def flagged() -> bool:
                    # Before the control test is read the meter is already out of policy (no
                    # passing control yet): wait for the failed test itself.
                    device = retained.device("meter")
                    return bool(device and "control_failed" in device["assurance"]["reasons"])

                await wait_for(flagged, 30, "the meter out of policy on the status topic")
                device = retained.device("meter")
                assert device is not None
                assert device["assurance"]["status"] == "out_of_policy"
                listed: dict[str, Any] = {}

                async def in_gempita_status() -> bool:
                    # The status file is rewritten every couple of seconds: ask again until
                    # it has caught up with the topic.
                    report = await asyncio.to_thread(gempita_status, config)
                    listed.update(*[d for d in report["devices"] if d["name"] == "meter"])
                    return "control_failed" in listed["assurance"]["reasons"]

                await wait_for(in_gempita_status, 30, "the failed control in gempita status")
                assert listed["assurance"]["status"] == "out_of_policy"
            finally:
                assert gateway.stop() == 0, gateway.text()[-4000:]
            with central.store.engine.connect() as conn:
                rows = conn.exec_driver_sql("SELECT payload FROM readings").scalars().all()
    finally:
        retained.close()
    payloads = [json.loads(row) for row in rows]
    assert len(payloads) == 2
    (resident,) = [p for p in payloads if not p["values"]["control_solution"]]
    (qc,) = [p for p in payloads if p["values"]["control_solution"]]
    assert resident["values"]["glucose_mgdl"] == 115.0  # stored, not dropped
    assert resident["assurance"]["status"] == "out_of_policy"
    assert "control_failed" in resident["assurance"]["reasons"]
    assert "strips_expired" not in resident["assurance"]["reasons"]
    assert qc["values"]["glucose_mgdl"] == 180.0
    assert qc["subject"] is None  # a control test is never a resident's result
    book = json.loads((state / "assurance.json").read_text())
    (logged,) = book["devices"]["meter"]["qc"]
    assert (logged["value_mgdl"], logged["passed"], logged["vial_lot"]) == (180.0, False, "CV-7")
