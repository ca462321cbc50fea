"""Baseline: raw paho QoS 1 publishing of the same payloads, the way paho is fastest.

paho Client, MQTT v5, paho's in-flight limit off, its network thread (`loop_start`), and an
application window of unacknowledged messages: publish until the window is full, wait for a
PUBACK, go on; the clock stops at the last PUBACK. Nothing is stored anywhere: this is what the
broker link alone costs, the ceiling the outbox drain is compared with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode


def paho_qos1_seconds(
    url: str, topic: str, payloads: Sequence[bytes], *, window: int = 1000
) -> tuple[float, float]:
    """(wall, CPU) seconds from the first publish to the last PUBACK of `payloads`.

    CPU is this process's (both threads): unlike wall time it hardly moves with the load
    other work puts on the machine.
    """
    parts = urlsplit(url)
    total = len(payloads)
    cond = threading.Condition()
    counters = {"inflight": 0, "acked": 0, "refused": 0}
    all_acked = threading.Event()
    connected = threading.Event()

    def on_connect(*_args: Any) -> None:
        connected.set()

    def on_publish(_c: Any, _u: Any, _mid: int, rc: Any, _p: Any) -> None:
        with cond:
            counters["inflight"] -= 1
            counters["acked"] += 1
            if getattr(rc, "value", 0) >= 0x80:
                counters["refused"] += 1
            cond.notify()
            if counters["acked"] == total:
                all_acked.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    client.on_connect = on_connect
    client.on_publish = on_publish
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise RuntimeError("baseline client did not connect")
        start = time.perf_counter()
        cpu_start = time.process_time()
        for payload in payloads:
            with cond:
                while counters["inflight"] >= window:
                    cond.wait()
                counters["inflight"] += 1
            info = client.publish(topic, payload, qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise RuntimeError(f"baseline publish failed: {paho.error_string(info.rc)}")
        if not all_acked.wait(600):
            raise RuntimeError(f"baseline: only {counters['acked']}/{total} PUBACKs arrived")
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
    finally:
        client.disconnect()
        client.loop_stop()
    if counters["refused"]:
        raise RuntimeError(f"baseline: broker refused {counters['refused']} messages")
    return elapsed, cpu
