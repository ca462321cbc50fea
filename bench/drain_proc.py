"""`python -m bench.drain_proc`: the gateway side of the drain benchmark, in its own process.

Runs the real `Gateway` (no devices, kiosk off: what `gempita outbox drain` runs) on a state
directory whose outbox is already full of pending readings, and times it from the broker
connection until every reading is PUBLISHED in the outbox (PUBACK received and the state
committed). Prints one JSON line, then waits for a line on stdin before exiting so the parent
can read this process's peak RSS (VmHWM) from /proc while it is still alive.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

from bench.common import GATEWAY_ID, proc_status
from gateway.cli.compose import build_gateway
from gateway.config import parse_config

_POLL_S = 0.002  # the publisher's counters are read, not hooked: the gateway runs unmodified


async def drain(
    state_dir: str, url: str, count: int, window: int, timeout_s: float
) -> dict[str, Any]:
    config = parse_config(
        {
            "gateway": {"id": GATEWAY_ID, "state_dir": state_dir, "log_level": "WARNING"},
            "mqtt": {"url": url, "window": window},
        }
    )
    gateway = build_gateway(config)
    task = asyncio.create_task(gateway.run(), name="gateway")
    deadline = time.monotonic() + timeout_s
    try:
        state = gateway.publisher.state
        while not state.connected:
            if task.done() or time.monotonic() > deadline:
                task.result()
                raise RuntimeError("gateway did not connect to the broker")
            await asyncio.sleep(_POLL_S / 2)
        start = time.perf_counter()
        cpu_start = time.process_time()
        rss_connected_kb = proc_status(os.getpid())["VmRSS"]
        while state.published_total < count:
            if task.done() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"drain stopped at {state.published_total}/{count} "
                    f"(last error: {state.last_error})"
                )
            await asyncio.sleep(_POLL_S)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        counts = await gateway.outbox.counts()
        return {
            "elapsed_s": elapsed,
            "cpu_s": cpu,
            "published_total": state.published_total,
            "outbox_pending": counts.pending,
            "outbox_published": counts.published,
            "rss_connected_kb": rss_connected_kb,
        }
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drain_proc")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    result = asyncio.run(drain(args.state_dir, args.url, args.count, args.window, args.timeout))
    print(json.dumps(result), flush=True)
    sys.stdin.readline()  # the parent reads /proc/<pid>/status, then lets us go
    return 0


if __name__ == "__main__":
    sys.exit(main())
