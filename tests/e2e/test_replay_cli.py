"""`gempita replay` as a user runs it: `python -m gateway.cli replay CAPTURE --broker URL` in a
subprocess, against a real mosquitto, with a raw MQTT subscriber watching the readings topic."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.devices import DeviceContext, DeviceStatus
from core.events import EventBus
from drivers.ble.runner import make_runner
from simulators.ble.backend import Air
from simulators.ble.devices import DeviceClock, GlucoseMeter, glucose_record
from tests.ble_sessions.helpers import config_for
from tests.e2e.conftest import NOW, rfc3339, wita_to_utc
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.sink import MemorySink

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "tests" / "ble_sessions" / "captures"
GATEWAY_ID = "gw-replay-test"


class ReadingsSubscriber:
    """A plain paho client on gempita/v1/+/readings, subscribed before anything is replayed."""

    def __init__(self, port: int) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.topics: list[str] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_args: self._subscribed.set()
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._client.subscribe("gempita/v1/+/readings", qos=1)
        if not self._subscribed.wait(5):
            raise AssertionError("subscriber not subscribed within 5 s")

    def _on_message(self, _client: Any, _userdata: Any, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.topics.append(msg.topic)
            self.payloads.append(json.loads(msg.payload))

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.payloads) >= count:
                    return list(self.payloads)
            time.sleep(0.02)
        raise AssertionError(f"subscriber got {len(self.payloads)} readings, wanted {count}")

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


@contextmanager
def subscriber(broker: Mosquitto) -> Iterator[ReadingsSubscriber]:
    sub = ReadingsSubscriber(broker.port)
    try:
        yield sub
    finally:
        sub.close()


def replay(
    tmp_path: Path, capture: Path, broker_url: str, *extra: str, timeout_s: float = 20.0
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a config whose state (outbox) lives in tmp_path."""
    state = tmp_path / "replay-state"
    config = tmp_path / "replay.toml"
    config.write_text(
        f'[gateway]\nid = "{GATEWAY_ID}"\nstate_dir = "{state}"\n'
        '[mqtt]\nurl = "mqtt://127.0.0.1:1"\nbackoff_initial_s = 0.1\nbackoff_max_s = 0.5\n'
    )
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "replay", str(capture), "-c", str(config),
         "--broker", broker_url, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def printed_readings(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_replay_publishes_every_reading_of_a_stored_capture(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    with subscriber(mosquitto) as sub:
        result = replay(tmp_path, CAPTURES / "glucose_standard.jsonl", mosquitto.url)
        assert result.returncode == 0, result.stderr
        printed = printed_readings(result.stdout)
        assert len(printed) == 2
        assert "all 2 readings acknowledged by the broker" in result.stdout
        got = sub.wait_for(2)
    assert sorted(p["id"] for p in got) == sorted(p["id"] for p in printed)
    assert set(sub.topics) == {f"gempita/v1/{GATEWAY_ID}/readings"}
    # The recorded meter (Contour Next One, five minutes slow) held 104 and 187 mg/dL, stamped
    # 08:55 and 11:55 on its clock: 09:00 and 12:00 WITA once corrected.
    by_key = {p["device"]["record_key"]: p for p in got}
    assert {k: (p["values"]["glucose_mgdl"], p["measured_at"], p["time_quality"],
                p["clock_offset_s"]) for k, p in by_key.items()} == {
        "11": (104.0, "2026-11-27T01:05:00.000Z", "device_clock", -300.0),
        "12": (187.0, "2026-11-27T04:05:00.000Z", "device_clock", -300.0),
    }
    assert {p["gateway_id"] for p in got} == {GATEWAY_ID}


async def test_replay_of_a_capture_recorded_here_reproduces_the_live_session(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    drift_s = 420.0
    meter_clock = DeviceClock(lambda: NOW, drift_s=drift_s)
    device_local = meter_clock.local_now()  # what the meter shows now (WITA, seven min fast)
    meter = GlucoseMeter(
        records=[
            glucose_record(1, device_local - timedelta(hours=9), 101.0, meal=1),
            glucose_record(2, device_local - timedelta(hours=4), 166.0, meal=2),
            glucose_record(3, device_local - timedelta(minutes=20), 212.0),
        ],
        clock=meter_clock,
    )
    air = Air()
    air.add(meter)
    capture = tmp_path / "recorded.jsonl"
    config = config_for(air, meter, record=capture)
    sink = MemorySink()
    ctx = DeviceContext(
        config=config, sink=sink, status=DeviceStatus(name=config.name, transport="ble"),
        events=EventBus(), gateway_id="gw-live", site_id=None, clock=lambda: NOW,
    )
    try:
        await make_runner(config).run_once(ctx)
    finally:
        await air.aclose()
    live = {r.id: r for r in sink.readings.values()}
    assert len(live) == 3
    assert capture.exists()

    with subscriber(mosquitto) as sub:
        result = await asyncio.to_thread(replay, tmp_path, capture, mosquitto.url)
        assert result.returncode == 0, result.stderr
        got = sub.wait_for(3)
    assert len(got) == 3
    mgdl = {"1": 101.0, "2": 166.0, "3": 212.0}
    for payload in got:
        reading = live[payload["id"]]  # same device, same record: same id as the live session
        assert payload["measured_at"] == rfc3339(reading.measured_at)
        assert payload["time_quality"] == reading.time_quality.value == "device_clock"
        assert payload["clock_offset_s"] == reading.clock_offset_s == drift_s
        assert payload["values"]["glucose_mgdl"] == mgdl[payload["device"]["record_key"]]
    # And the live session itself was right: device stamp minus drift, WITA -> UTC.
    assert sorted(rfc3339(r.measured_at) for r in live.values()) == sorted(
        rfc3339(wita_to_utc(device_local - delta) - timedelta(seconds=drift_s))
        for delta in (timedelta(hours=9), timedelta(hours=4), timedelta(minutes=20))
    )


def test_replay_to_a_closed_port_fails_clearly_within_the_timeout(tmp_path: Path) -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = replay(tmp_path, CAPTURES / "bp_standard.jsonl", url, "--timeout", "2")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "gempita: error: 2 of 2 readings not acknowledged by" in result.stderr
    assert url in result.stderr
    assert "within 2 s" in result.stderr
    assert "cannot reach broker" in result.stderr  # the publisher's reason, passed on
    assert "Traceback" not in result.stderr
    # Two seconds of waiting plus interpreter start-up, not the default 30 s.
    assert 2.0 <= elapsed < 12.0


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("this is not a capture\n", "not JSON"),
        ("", "empty capture"),
    ],
)
def test_malformed_capture_exits_2(
    tmp_path: Path, mosquitto: Mosquitto, content: str, reason: str
) -> None:
    capture = tmp_path / "broken.jsonl"
    capture.write_text(content)
    result = replay(tmp_path, capture, mosquitto.url, "--timeout", "5")
    assert result.returncode == 2
    assert result.stderr.startswith(f"gempita: error: capture {capture}")
    assert reason in result.stderr
    assert "Traceback" not in result.stderr
