"""Child processes of bench/central_ingest.py, each alone so it costs central nothing in-process.

`python -m bench.ingest_proc receipts URL N`: subscribes to every gateway's receipts, prints
"ready" after the SUBACK, then "done <CLOCK_MONOTONIC s>" once N distinct reading ids were
confirmed; on stdin's end prints "count <distinct> <total>" and exits.

`python -m bench.ingest_proc drain URL CLIENT_ID N`: resumes the persistent session CLIENT_ID
(prepared by the parent), lets paho acknowledge every queued reading as it arrives, and prints
"drained <seconds from CONNACK to the Nth message> <cpu seconds>": the MQTT-side limit.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

RECEIPTS_FILTER = "gempita/v1/+/receipts"
SESSION_EXPIRY_S = 3600


def make_client(client_id: str = "") -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    return client


def connect_session(client: paho.Client, url: str, *, resume: bool) -> None:
    parts = urlsplit(url)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    client.connect(
        parts.hostname or "127.0.0.1",
        parts.port or 1883,
        clean_start=not resume,
        properties=props,
    )


def receipts(url: str, expected: int) -> None:
    seen: set[str] = set()
    total = 0
    lock = threading.Lock()
    subscribed = threading.Event()

    def on_subscribe(*_args: Any) -> None:
        subscribed.set()

    def on_message(_c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        nonlocal total
        ids = orjson.loads(msg.payload)["ids"]
        with lock:
            before = len(seen)
            seen.update(ids)
            total += len(ids)
            if before < expected <= len(seen):
                print(f"done {time.monotonic():.6f}", flush=True)

    client = make_client()
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_connect = lambda c, *_a: c.subscribe(RECEIPTS_FILTER, qos=1)
    connect_session(client, url, resume=False)
    client.loop_start()
    if not subscribed.wait(10):
        raise SystemExit("receipt counter did not subscribe")
    print("ready", flush=True)
    sys.stdin.read()
    client.disconnect()
    client.loop_stop()
    with lock:
        print(f"count {len(seen)} {total}", flush=True)


def drain(url: str, client_id: str, expected: int) -> None:
    times: dict[str, float] = {}
    count = 0

    def on_connect(*_args: Any) -> None:
        times["connack"] = time.perf_counter()
        times["cpu"] = time.process_time()

    def on_message(c: paho.Client, _u: Any, _msg: paho.MQTTMessage) -> None:
        nonlocal count
        count += 1
        if count == expected:
            times["last"] = time.perf_counter()
            times["cpu_end"] = time.process_time()
            c.disconnect()

    client = make_client(client_id)
    client.on_connect = on_connect
    client.on_message = on_message
    connect_session(client, url, resume=True)
    client.loop_forever()
    if "last" not in times:
        raise SystemExit(f"raw drain ended after {count} of {expected} messages")
    wall = times["last"] - times["connack"]
    print(f"drained {wall:.6f} {times['cpu_end'] - times['cpu']:.6f}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "receipts":
        receipts(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "drain":
        drain(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        raise SystemExit(f"unknown child {sys.argv[1]!r}: receipts or drain")
