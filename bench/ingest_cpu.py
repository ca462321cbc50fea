"""CPU per reading of central's ingest hot code, offline (no broker, no database).

The end-to-end (h) run (bench/central_ingest.py) shares the 2 cores with mosquitto, PostgreSQL
and other sessions' test suites, so its rates swing 2-10x between rounds of the same code. This
isolates what central's process runs per reading, in process CPU time (`time.process_time`,
which other processes' load barely moves), best of REPEATS passes over the bench's own payload
mix (bench/central_ingest.py's rows: alternately blood pressure and glucose, 50 gateways):

- `check`: `core.payload_check.check_reading_payload` (central's parse and schema check);
- `decode`: `core.payload.decode_reading` (the gateway's, and the model build);
- `parse`: `CentralService._parse` of a batch (check + topic match + the row to store);
- `read`: the MQTT read path, from a receive buffer of QoS 1 PUBLISH packets to central's queue
  (`_Client._take_publishes` through `MqttConnection`'s raw-message callback).

To compare two trees, run it in each, alternating, same venv:
`cd <tree> && PYTHONPATH=<tree> .venv/bin/python -m bench.ingest_cpu [rounds]`.
It uses only names both the main of 2026-12-02 and later trees have (`read` adapts to central's
queue callback, see `_central_queue`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.common import make_reading
from central.service import CentralService
from core.mqtt import BrokerSettings, MqttConnection
from core.mqtt_packets import encode_publish_qos1, encode_topic
from core.payload import decode_reading, encode_reading
from core.payload_check import check_reading_payload
from core.topics import topic_readings

N = 2000  # readings per pass (central's BATCH_MAX)
REPEATS = 30
GATEWAYS = 50


def _rows() -> list[tuple[str, bytes]]:
    out = []
    for n in range(N):
        gw = f"gw-bench-{n % GATEWAYS:02d}"
        reading = dataclasses.replace(make_reading(n, prefix="cpu-"), gateway_id=gw)
        out.append((topic_readings(gw), encode_reading(reading)))
    return out


def _best(fn: Callable[[], object]) -> float:
    """Best pass of REPEATS, in microseconds of process CPU per reading."""
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best / N * 1e6


def _central_queue(queue: list[Any], conn: list[MqttConnection]) -> Callable[..., None]:
    """Central's raw-message callback into `queue`, as this tree's CentralService._session
    writes it (a closure there, so copied here: both versions)."""
    from central.service import _Msg

    wake = asyncio.Event()
    if not hasattr(MqttConnection, "_deliver_fast"):  # main of 2026-12-02

        def on_message(topic: str, payload: bytes, mid: int, qos: int) -> None:
            queue.append(_Msg(topic, payload, mid, qos))
            wake.set()

        return on_message

    def on_message_turn(topic: str, payload: bytes, mid: int, qos: int) -> None:
        queue.append(_Msg(topic, payload, mid, qos, conn[0].read_at))  # type: ignore[call-arg]
        if len(queue) == 1:
            wake.set()

    return on_message_turn


async def _read_path(rows: list[tuple[str, bytes]]) -> float:
    queue: list[Any] = []
    settings = BrokerSettings(url="mqtt://127.0.0.1:1", client_id="bench-cpu")
    holder: list[MqttConnection] = []
    conn = MqttConnection(settings, on_raw_message=_central_queue(queue, holder), manual_ack=True)
    holder.append(conn)
    fast = conn._fast
    if fast is None:
        raise RuntimeError("paho does not match the fast path: nothing to measure")
    heads = {topic: encode_topic(topic) for topic, _ in rows}
    buf = b"".join(
        encode_publish_qos1(heads[topic], n % 65535 + 1, payload)
        for n, (topic, payload) in enumerate(rows)
    )

    def one_pass() -> None:
        queue.clear()
        fast._rbuf = buf
        fast._rpos = 0
        # What one read turn does with a buffer (core.mqtt: _packet_read -> _take_publishes),
        # through the connection's own callback chain.
        fast._take_publishes()
        if len(queue) != N:
            raise RuntimeError(f"{len(queue)} of {N} messages taken: measured nothing")

    return _best(one_pass)


def _message(topic: str, payload: bytes, mid: int) -> Any:
    from central.service import _Msg

    return _Msg(topic, payload, mid, 1)


def measure() -> dict[str, float]:
    rows = _rows()
    payloads = [payload for _, payload in rows]
    for payload in payloads:  # every one valid, or the figures mean nothing
        check_reading_payload(payload)
    service = CentralService.__new__(CentralService)
    msgs = [_message(topic, payload, n + 1) for n, (topic, payload) in enumerate(rows)]

    def check() -> None:
        for payload in payloads:
            check_reading_payload(payload)

    def decode() -> None:
        for payload in payloads:
            decode_reading(payload)

    def parse() -> None:
        _good, bad = service._parse(msgs)  # type: ignore[arg-type]
        if bad:
            raise RuntimeError(f"{len(bad)} dead letters: measured the wrong path")

    return {
        "check": _best(check),
        "decode": _best(decode),
        "parse": _best(parse),
        "read": asyncio.run(_read_path(rows)),
    }


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    tree = os.environ.get("PYTHONPATH", ".")
    for _ in range(rounds):
        figures = measure()
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(
            f"{tree}: "
            + ", ".join(f"{name} {us:.2f} us" for name, us in figures.items())
            + f" (per reading, best of {REPEATS} x {N}; load {load})",
            flush=True,
        )


if __name__ == "__main__":
    main()
