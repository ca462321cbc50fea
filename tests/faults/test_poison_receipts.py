"""Poison on a gateway's receipts topic, against a real `gempita run` process (item 13).

A receipt the gateway cannot parse is counted, logged once, acknowledged and ignored: the
stream of readings goes on, the log does not flood, and the broker does not send it again
after a restart.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gateway.outbox_store import OutboxStore
from tests.core.test_delivery import prefill
from tests.support.harness import gateway_config, running_central, wait_for
from tests.support.mosquitto import Mosquitto
from tests.support.processes import gateway_process, write_gateway_config

RECEIPTS = "gempita/v1/gw-001/receipts"
PREFILLED = 2000
DEVICE_RECORDS = 600
POISON = [
    b"[" * 20_000 + b"]" * 20_000,  # RecursionError in json.loads
    b'{"ids":' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    json.dumps({"schema": "gempita.receipt/1", "ids": ["x"]}).encode("utf-16"),
    b"not json",
    b"",
    b'{"ids": [1, 2, 3]}',
    b'{"ids": "abc"}',
    b"[]",
    b'{"ids": ["\\ud800"]}',
]


def status(state: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((state / "status.json").read_text()))
    except (OSError, ValueError):
        return {}


async def test_poison_receipts_are_counted_acknowledged_and_ignored(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str
) -> None:
    state = tmp_path / "gw"
    ids = await prefill(gateway_config(state, mosquitto.url), PREFILLED)
    config = write_gateway_config(
        tmp_path / "gateway.toml", state, mosquitto.url, device_records=DEVICE_RECORDS
    )
    log = tmp_path / "gateway.log"
    raw = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    raw.connect("127.0.0.1", mosquitto.port)
    raw.loop_start()
    gateway = gateway_process(config, log).start()
    store = OutboxStore(state / "outbox.db", exclusive=False)
    try:
        async with running_central(mosquitto.url, central_db_url) as central:
            await wait_for(
                lambda: status(state).get("publisher", {}).get("connected"), 20, "connected"
            )
            # Poison first, three rounds, while the drain is under way.
            for _ in range(3):
                for payload in POISON:
                    raw.publish(RECEIPTS, payload, qos=1).wait_for_publish(5)
            await asyncio.to_thread(store.open)  # a read-only look, off the loop

            async def all_confirmed() -> bool:
                counts = await asyncio.to_thread(store.counts)
                return counts.confirmed == PREFILLED + DEVICE_RECORDS and not counts.unconfirmed

            await wait_for(all_confirmed, 60, "every reading confirmed despite the poison")
            await wait_for(
                lambda: status(state).get("publisher", {}).get("bad_receipts") == 3 * len(POISON),
                10,
                "every bad receipt counted",
            )
            assert ids <= central.store.ids()
            assert gateway.alive
            text = gateway.text()
            assert "Traceback" not in text
            assert text.count("malformed receipt") == 1, text[-3000:]
            assert log.stat().st_size < 50_000
            # Restart: nothing of the poison comes back from the persistent session.
            gateway.stop()
            gateway = gateway_process(config, tmp_path / "gateway2.log").start()
            await wait_for(
                lambda: (
                    status(state).get("state") == "running"
                    and status(state).get("publisher", {}).get("connected")
                ),
                20,
                "connected again",
            )
            await asyncio.sleep(2.0)
            assert status(state)["publisher"]["bad_receipts"] == 0
            assert "malformed receipt" not in gateway.text()
    finally:
        await asyncio.to_thread(store.close)
        gateway.stop()
        raw.loop_stop()
        raw.disconnect()


async def test_a_failing_message_handler_is_not_run_again_on_the_same_packet(
    mosquitto: Mosquitto,
) -> None:
    # Whatever a handler raises, paho must not re-handle the packet (the wedge of item 13),
    # later messages still arrive, and the failed one is acknowledged: a new session with the
    # same persistent client id does not get it again.
    from core.mqtt import BrokerSettings, MqttConnection

    calls: list[bytes] = []

    def on_message(msg: paho.MQTTMessage) -> None:
        calls.append(bytes(msg.payload))
        if msg.payload.startswith(b"bad"):
            raise RecursionError("maximum recursion depth exceeded")

    settings = BrokerSettings(mosquitto.url, "guard-test", session_expiry_s=600)
    conn = MqttConnection(settings, on_message=on_message, manual_ack=True)
    await conn.connect()
    conn.subscribe("guard/test", qos=1)
    raw = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    raw.connect("127.0.0.1", mosquitto.port)
    raw.loop_start()
    try:
        await asyncio.sleep(0.5)  # SUBACK
        for payload in (b"bad-1", b"good-1", b"bad-2", b"good-2"):
            raw.publish("guard/test", payload, qos=1).wait_for_publish(5)
        await wait_for(lambda: b"good-2" in calls, 10, f"the last message, got {calls}")
        await asyncio.sleep(0.5)
        assert calls == [b"bad-1", b"good-1", b"bad-2", b"good-2"]
        assert conn.callback_errors == 2
        assert not conn.closed.done()
        for mid in range(1, 5):  # acknowledge the good ones as the caller would
            conn.ack(mid, 1)
        await conn.close()
        calls.clear()
        conn = MqttConnection(settings, on_message=on_message, manual_ack=True)
        await conn.connect()
        await asyncio.sleep(1.0)
        assert calls == []
    finally:
        await conn.close()
        raw.loop_stop()
        raw.disconnect()
