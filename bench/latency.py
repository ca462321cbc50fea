"""(c) commit -> PUBACK latency at a steady, kiosk-like rate.

One producer commits one reading every 1/rate seconds on a fixed schedule (a late tick does not
shift the next ones). For each reading: t0 when `Outbox.commit` returns (durable), t1 when the
publisher's PUBACK callback runs for it; latency = t1 - t0. Reference in the same run: the
round trip of a raw paho QoS 1 publish of the same payload at the same rate.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import GATEWAY_ID, Result, load_average, make_readings, mosquitto, percentile
from bench.instrumented import forwarding
from core.payload import encode_reading
from core.topics import topic_readings

P50_TARGET_MS = 3.0
P99_TARGET_MS = 15.0


async def commit_to_puback(db: Path, url: str, rate: float, duration_s: float) -> list[float]:
    count = max(1, round(rate * duration_s))
    readings = make_readings(count, "lat-")
    committed_at: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    async with forwarding(db, url) as (outbox, publisher):
        publisher.expected = count
        start = loop.time()
        for n, reading in enumerate(readings):
            delay = start + n / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await outbox.commit([reading])
            committed_at[reading.id] = time.perf_counter()
        await asyncio.wait_for(publisher.all_acked.wait(), 30)
        return [
            (acked - committed_at[outbox.id_of_seq[seq]]) * 1000
            for seq, acked in publisher.acked_at.items()
        ]


def paho_round_trips(url: str, rate: float, duration_s: float) -> list[float]:
    """Publish -> PUBACK of raw paho (loop_start) at the same rate: the link's own latency."""
    parts = urlsplit(url)
    payloads = [encode_reading(r) for r in make_readings(max(1, round(rate * duration_s)), "p-")]
    acked = threading.Event()
    sent_at = 0.0
    samples: list[float] = []

    def on_publish(*_args: Any) -> None:
        samples.append((time.perf_counter() - sent_at) * 1000)
        acked.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(0)
    client.on_publish = on_publish
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    try:
        start = time.perf_counter()
        for n, payload in enumerate(payloads):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            acked.clear()
            sent_at = time.perf_counter()
            client.publish(topic_readings(GATEWAY_ID), payload, qos=1)
            if not acked.wait(5):
                raise RuntimeError("baseline PUBACK did not arrive within 5 s")
    finally:
        client.disconnect()
        client.loop_stop()
    return samples


def run_latency(duration_s: float, *, rate: float = 20.0, quick: bool = False) -> Result:
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="gempita-bench-latency-") as tmp, mosquitto() as url:
        base = paho_round_trips(url, rate, min(duration_s, 10.0))
        samples = asyncio.run(commit_to_puback(Path(tmp) / "lat.db", url, rate, duration_s))
    p50, p99 = percentile(samples, 50), percentile(samples, 99)
    return Result(
        f"(c) commit -> PUBACK latency at {rate:g} readings/s",
        {
            "samples": f"{len(samples)} over {duration_s:g} s",
            "p50 / p90 / p99 / max": f"{p50:.2f} / {percentile(samples, 90):.2f} / "
            f"{p99:.2f} / {max(samples):.2f} ms",
            "reference: raw paho publish -> PUBACK p50 / p99": f"{percentile(base, 50):.2f} / "
            f"{percentile(base, 99):.2f} ms ({len(base)} samples)",
            "load average before": load_before,
        },
        target=f"p50 <= {P50_TARGET_MS:g} ms and p99 <= {P99_TARGET_MS:g} ms",
        met=None if quick else (p50 <= P50_TARGET_MS and p99 <= P99_TARGET_MS),
    )
