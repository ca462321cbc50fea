"""`python -m bench.split_prototype [--readings N] [--rounds R]`: would a publisher process pay?

An experiment for benchmark (b), not product code. In the gateway the event loop (paho, the
device sessions' encoding) and the outbox's DB thread share one GIL, and (b) is bound by it
(RESULTS.md, "Why (b) is still missed"). Here the publishing half runs in a second process:

- the parent commits with the real `Outbox` (same producers as `bench.forward`) and writes a
  byte to the child's stdin after each group commit;
- the child reads pending rows from the same WAL file with its own sqlite3 connection
  (the file keeps one writer), publishes them with `gateway.mqtt.MqttConnection` (window
  1000), and writes the PUBACKed seqs back on stdout;
- the parent applies them with `Outbox.mark_published` (they join its group commits).

Refusals, receipts, status and Last Will are left out: this measures the ceiling, it is not a
design. Each round runs the in-process forwarder and the prototype back to back, since this
VM's speed drifts by a third within minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench.common import GATEWAY_ID, make_readings, mosquitto
from bench.forward import _offer_all, forward
from gateway.mqtt import BrokerSettings, MqttConnection
from gateway.outbox import Outbox
from gateway.publisher import topic_readings

_FETCH = (
    "SELECT json_group_array(json_array(seq, CAST(payload AS TEXT))) FROM ("
    "SELECT seq, payload FROM outbox WHERE state = 0 AND seq > ? ORDER BY seq LIMIT ?)"
)
_WINDOW = 1000
_ROOT = Path(__file__).resolve().parents[1]


# --- the child: fetch, publish, report PUBACKs ---------------------------------------------


async def _child(db: str, url: str) -> None:
    loop = asyncio.get_running_loop()
    conn = sqlite3.connect(db, isolation_level=None)
    wake = asyncio.Event()
    window_free = asyncio.Event()
    stopped = loop.create_future()
    inflight: dict[int, int] = {}
    acked: list[int] = []

    def on_stdin() -> None:
        if not os.read(0, 65536) and not stopped.done():
            stopped.set_result(None)  # the parent went away
        wake.set()

    def on_publish(mid: int, _code: int, _name: str) -> None:
        seq = inflight.pop(mid, None)
        if seq is not None:
            acked.append(seq)
            window_free.set()

    async def report() -> None:
        while True:
            await window_free.wait()
            window_free.clear()
            if acked:
                data = orjson.dumps(acked)
                acked.clear()
                os.write(1, struct.pack("!I", len(data)) + data)

    async def pump(mqtt: MqttConnection) -> None:
        cursor = 0
        topic = topic_readings(GATEWAY_ID)
        while True:
            free = _WINDOW - len(inflight)
            if free <= 0:
                await window_free.wait()
                continue
            wake.clear()
            found = conn.execute(_FETCH, (cursor, min(free, 100))).fetchone()[0]
            rows = orjson.loads(found)
            if not rows:
                await wake.wait()
                continue
            for seq, payload in rows:
                inflight[mqtt.publish(topic, payload.encode())] = seq
                cursor = seq

    loop.add_reader(0, on_stdin)
    mqtt = MqttConnection(BrokerSettings(url=url, client_id="split-child"), on_publish=on_publish)
    await mqtt.connect()
    os.write(1, struct.pack("!I", 0))  # connected
    tasks = [asyncio.create_task(report()), asyncio.create_task(pump(mqtt))]
    await stopped
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await mqtt.close()


# --- the parent: commit, wake the child, apply its marks ------------------------------------


def _start_child(db: Path, url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.split_prototype", "--child", str(db), url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=_ROOT,
    )


async def _split_round(db: Path, url: str, count: int, producers: int, batch: int) -> float:
    readings = make_readings(count, "split-")
    async with Outbox(db) as outbox:
        child = _start_child(db, url)
        assert child.stdin is not None
        assert child.stdout is not None
        to_child, from_child = child.stdin.fileno(), child.stdout.fileno()
        loop = asyncio.get_running_loop()
        connected = asyncio.Event()
        all_acked = asyncio.Event()
        marks_ready = asyncio.Event()
        marks: list[int] = []
        acked = 0
        buf = bytearray()

        def on_data() -> None:
            nonlocal acked
            chunk = os.read(from_child, 1 << 20)
            if not chunk:
                loop.remove_reader(from_child)
                return
            buf.extend(chunk)
            while len(buf) >= 4:
                size = struct.unpack("!I", buf[:4])[0]
                if len(buf) < 4 + size:
                    break
                if size == 0:
                    connected.set()
                else:
                    seqs: list[int] = orjson.loads(bytes(buf[4 : 4 + size]))
                    marks.extend(seqs)
                    acked += len(seqs)
                    marks_ready.set()
                    if acked >= count:
                        all_acked.set()
                del buf[: 4 + size]

        async def apply_marks() -> None:
            while True:
                await marks_ready.wait()
                marks_ready.clear()
                batch_marks = marks[:]
                marks.clear()
                await outbox.mark_published(batch_marks)

        async def wake_child() -> None:
            while True:
                await outbox.new_pending.wait()
                outbox.new_pending.clear()
                os.write(to_child, b"w")

        loop.add_reader(from_child, on_data)
        tasks = [asyncio.create_task(apply_marks()), asyncio.create_task(wake_child())]
        try:
            async with asyncio.timeout(20):
                await connected.wait()
            start = time.perf_counter()
            await _offer_all(outbox, readings, producers, batch)
            async with asyncio.timeout(600):
                await all_acked.wait()
            elapsed = time.perf_counter() - start
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.remove_reader(from_child)
            child.stdin.close()
            child.wait(20)
            child.stdout.close()
    return count / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.split_prototype", description=__doc__)
    parser.add_argument("--readings", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--producers", type=int, default=8)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--child", nargs=2, metavar=("DB", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        asyncio.run(_child(*args.child))
        return 0
    count, producers, batch = args.readings, args.producers, args.batch
    with tempfile.TemporaryDirectory(prefix="gempita-bench-split-") as tmp, mosquitto() as url:
        for n in range(args.rounds):
            db = Path(tmp) / f"in-{n}.db"
            times = asyncio.run(forward(db, url, make_readings(count, f"in{n}-"), producers, batch))
            in_process = count / times["last_ack_s"]
            split = asyncio.run(
                _split_round(Path(tmp) / f"split-{n}.db", url, count, producers, batch)
            )
            print(
                f"round {n + 1}: in-process {in_process:,.0f}/s, "
                f"publisher process {split:,.0f}/s ({count} readings, {producers} x {batch})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
