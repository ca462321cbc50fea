"""A stand-in for central in the benchmarks, in its own process: subscribes to every gateway's
readings (QoS 0, discarding them) so the broker delivers them somewhere, as in production.

Without a subscriber mosquitto answers PUBACK 0x10 (no matching subscribers), which the
gateway rightly treats as not delivered. Run: `python -m bench.listener URL`; prints "ready".
"""

from __future__ import annotations

import sys
import threading
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


def main() -> None:
    url = urlsplit(sys.argv[1])
    subscribed = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect(url.hostname or "127.0.0.1", url.port or 1883)
    client.subscribe("gempita/v1/+/readings", qos=0)
    client.loop_start()
    if not subscribed.wait(10):
        sys.exit("listener: no SUBACK within 10 s")
    print("ready", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    client.loop_stop()
    client.disconnect()


if __name__ == "__main__":
    main()
