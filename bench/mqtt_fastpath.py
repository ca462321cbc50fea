"""CPU per call of the publish fast path's hot code, offline: `_Client.publish_qos1` and the
PUBACK scan (`_Client._take_pubacks`), best of 40 x 1000 (no broker, no event loop).

The end-to-end benchmarks (a)/(b) cannot resolve a change of a fraction of a microsecond per
reading on this shared VM; this isolates the code core/mqtt.py runs per reading. Run it for two
trees to compare: `PYTHONPATH=<tree> .venv/bin/python -m bench.mqtt_fastpath`.
"""

from __future__ import annotations

import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from core.mqtt import _Client

N = 1000
REPEATS = 40
PAYLOAD = b"x" * 679  # the mean reading payload of bench/common.py


def measure() -> tuple[float, float]:
    """(publish_qos1, one PUBACK taken) in microseconds of process CPU, best of REPEATS."""
    client = _Client(CallbackAPIVersion.VERSION2, client_id="bench", protocol=paho.MQTTv5)
    # Queues without a network: paho only checks that a socket is set, and with a
    # register-write callback it leaves the writing to the caller.
    client._sock = object()  # type: ignore[assignment]
    client.on_socket_register_write = lambda *_args: None
    client.fast_puback = lambda _mid, _code, _name: None
    client._reason_of(0)  # the success code validated once, as after the first real PUBACK
    best_pub = best_ack = float("inf")
    try:
        for _ in range(REPEATS):
            client._out_packet.clear()
            client._batch = None
            t0 = time.process_time()
            mids = [client.publish_qos1("gempita/v1/gw-001/readings", PAYLOAD) for _ in range(N)]
            t1 = time.process_time()
            client._rbuf = b"".join(b"\x40\x02" + (m or 0).to_bytes(2, "big") for m in mids)
            client._rpos = 0
            t2 = time.process_time()
            client._take_pubacks()
            t3 = time.process_time()
            if client.unacknowledged:
                raise RuntimeError("PUBACKs left unread: the benchmark measured nothing")
            best_pub = min(best_pub, t1 - t0)
            best_ack = min(best_ack, t3 - t2)
    finally:
        client._sock = None  # paho's __del__ would try to close it
    return best_pub / N * 1e6, best_ack / N * 1e6


if __name__ == "__main__":
    pub, ack = measure()
    print(f"publish_qos1 {pub:.2f} us, PUBACK taken {ack:.2f} us (best of {REPEATS} x {N})")
