"""`python -m tests.central.flood_publisher URL GATEWAY FIRST`: fresh readings until stdin ends.

Reading numbers start at FIRST (publishers given ranges far apart make distinct ids: the ids
come from the device and the number, not the gateway).

A gateway's flood in its own process, so central's event loop and this one do not share a
CPU turn: QoS 1 with a window of 500 unacknowledged messages, new ids all the time, "started"
printed after the first PUBACK; at the end, once every PUBACK is in, the number the broker
accepted.
"""

from __future__ import annotations

import sys
import threading

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from core.payload import encode_reading
from core.topics import topic_readings
from tests.support.harness import make_reading


def main(url: str, gateway_id: str, first: int) -> None:
    host, port = url.removeprefix("mqtt://").split(":")
    window_size = 500
    window = threading.Semaphore(window_size)
    accepted = 0
    stop = threading.Event()
    started = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)

    def on_publish(_c: object, _u: object, _mid: int, rc: ReasonCode, _p: object) -> None:
        nonlocal accepted
        if rc.value < 0x80:
            accepted += 1
        window.release()
        started.set()

    client.on_publish = on_publish
    client.connect(host, int(port))
    client.loop_start()

    def until_stdin_ends() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=until_stdin_ends, daemon=True).start()
    topic = topic_readings(gateway_id)
    sent = 0
    while not stop.is_set():
        if not window.acquire(timeout=1):
            continue
        client.publish(
            topic, encode_reading(make_reading(first + sent, gateway_id=gateway_id)), qos=1
        )
        sent += 1
        if sent == 1:
            started.wait(10)
            print("started", flush=True)
    for _ in range(window_size):  # every PUBACK in
        if not window.acquire(timeout=20):
            raise SystemExit("the broker stopped acknowledging")
    client.disconnect()
    client.loop_stop()
    print(accepted, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
