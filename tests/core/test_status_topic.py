"""The retained status topic: online with outbox depth and devices; offline on shutdown and,
through the Last Will, when the gateway dies without a goodbye."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mosquitto import Mosquitto

REPO = Path(__file__).resolve().parents[2]


def subscribe_status(port: int) -> tuple[paho.Client, queue.Queue[dict[str, object]]]:
    seen: queue.Queue[dict[str, object]] = queue.Queue()
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.on_message = lambda _c, _u, msg: seen.put(json.loads(msg.payload))
    client.connect("127.0.0.1", port)
    client.subscribe("gempita/v1/gw-001/status", qos=1)
    client.loop_start()
    return client, seen


def next_state(seen: queue.Queue[dict[str, object]], state: str) -> dict[str, object]:
    while True:
        status = seen.get(timeout=20)
        if status["state"] == state:
            return status


def start(tmp_path: Path, url: str) -> subprocess.Popen[bytes]:
    config = tmp_path / "gw.toml"
    config.write_text(
        f'[gateway]\nid = "gw-001"\nstate_dir = "{tmp_path / "state"}"\n'
        f'[mqtt]\nurl = "{url}"\nstatus_interval_s = 0.5\n'
        '[[devices]]\nname = "bp-1"\ntransport = "simulated"\nkind = "blood_pressure"\n'
        "options = { rate_per_s = 5, count = 3 }\n"
    )
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_online_then_offline_by_will_and_by_goodbye(tmp_path: Path, mosquitto: Mosquitto) -> None:
    client, seen = subscribe_status(mosquitto.port)
    try:
        proc = start(tmp_path, mosquitto.url)
        online = next_state(seen, "online")
        assert online["gateway_id"] == "gw-001"
        assert online["version"]
        assert {"pending", "oldest_pending_age_s"} <= set(online["outbox"])  # type: ignore[arg-type]
        devices = online["devices"]
        assert isinstance(devices, list)
        assert devices[0]["name"] == "bp-1"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert next_state(seen, "offline")["gateway_id"] == "gw-001"  # the Last Will

        proc = start(tmp_path, mosquitto.url)
        next_state(seen, "online")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert next_state(seen, "offline")["gateway_id"] == "gw-001"  # said goodbye
    finally:
        client.loop_stop()
        client.disconnect()
    # Retained: a late subscriber learns the gateway is offline.
    late, late_seen = subscribe_status(mosquitto.port)
    try:
        assert next_state(late_seen, "offline")
    finally:
        late.loop_stop()
        late.disconnect()
