"""(a) outbox -> mosquitto drain rate vs raw paho, and (d) the gateway's peak RSS meanwhile.

Each round first publishes the same payloads with raw paho (`bench.paho_baseline`), then lets
the real gateway drain a copy of the same pre-filled outbox in a separate process
(`bench.drain_proc`); the ratio of the two rates is taken per round, so a burst of load from
elsewhere on the machine hits both sides of one ratio alike.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import GATEWAY_ID, Result, load_average, make_readings, mosquitto, proc_status
from bench.paho_baseline import paho_qos1_seconds
from core.payload import encode_reading
from core.reading import Reading
from core.topics import topic_readings
from gateway.outbox import Outbox

REPO = Path(__file__).resolve().parent.parent
RATIO_TARGET = 0.8
RSS_TARGET_MB = 50.0


async def prefill(path: Path, readings: list[Reading], batch: int = 1000) -> None:
    """An outbox holding `readings` as PENDING (built once; not part of any measurement)."""
    async with Outbox(path, synchronous="normal", max_readings=len(readings) + 1) as outbox:
        for i in range(0, len(readings), batch):
            await outbox.commit(readings[i : i + batch])


def _gateway_drain(template: Path, state_dir: Path, url: str, count: int) -> dict[str, float]:
    state_dir.mkdir()
    shutil.copyfile(template, state_dir / "outbox.db")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.drain_proc",
            "--state-dir",
            str(state_dir),
            "--url",
            url,
            "--count",
            str(count),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,  # `bench` is importable from the checkout, not installed
    )
    try:
        if proc.stdout is None or proc.stdin is None:
            raise RuntimeError("pipes to the drain process were not opened")
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"drain process exited with {proc.wait()} before reporting")
        result: dict[str, float] = json.loads(line)
        result["vm_hwm_kb"] = proc_status(proc.pid)["VmHWM"]
        proc.stdin.write("\n")
        proc.stdin.close()
        if proc.wait(30) != 0:
            raise RuntimeError(f"drain process exited with {proc.returncode}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    return result


def run_drain(count: int, rounds: int, *, quick: bool = False) -> list[Result]:
    readings = make_readings(count, prefix="drain-")
    payloads = [encode_reading(r) for r in readings]
    mean_size = sum(map(len, payloads)) / len(payloads)
    topic = topic_readings(GATEWAY_ID)
    ratios: list[float] = []
    base_rates: list[float] = []
    gw_rates: list[float] = []
    hwm_kb: list[int] = []
    connected_kb: list[int] = []
    cpu_us: list[tuple[float, float]] = []  # (paho, gateway) CPU per reading
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="gempita-bench-drain-") as tmp:
        template = Path(tmp) / "template.db"
        asyncio.run(prefill(template, readings))
        with mosquitto() as url:
            for round_no in range(rounds):
                base_s, base_cpu = paho_qos1_seconds(url, topic, payloads)
                gw = _gateway_drain(template, Path(tmp) / f"round{round_no}", url, count)
                if gw["outbox_pending"] != 0 or gw["outbox_published"] != count:
                    raise RuntimeError(f"outbox not fully published after the drain: {gw}")
                base_rates.append(count / base_s)
                gw_rates.append(count / gw["elapsed_s"])
                ratios.append(base_s / gw["elapsed_s"])
                cpu_us.append((base_cpu / count * 1e6, gw["cpu_s"] / count * 1e6))
                hwm_kb.append(int(gw["vm_hwm_kb"]))
                connected_kb.append(int(gw["rss_connected_kb"]))
    ratio = statistics.median(ratios)
    drain = Result(
        "(a) drain outbox -> mosquitto, QoS 1, until all PUBLISHED",
        {
            "readings": f"{count} (mean payload {mean_size:.0f} B), {rounds} round(s)",
            "raw paho QoS 1 (baseline)": ", ".join(f"{r:,.0f}/s" for r in base_rates),
            "gateway drain": ", ".join(f"{r:,.0f}/s" for r in gw_rates),
            "ratio per round": ", ".join(f"{r:.2f}" for r in ratios),
            "ratio (median)": f"{ratio:.2f}",
            "CPU per reading, paho / gateway": ", ".join(
                f"{b:.0f} / {g:.0f} us" for b, g in cpu_us
            ),
            "load average before": load_before,
        },
        target=f"ratio >= {RATIO_TARGET}",
        met=None if quick else ratio >= RATIO_TARGET,
    )
    peak_mb = max(hwm_kb) / 1024
    rss = Result(
        "(d) gateway peak RSS while draining (separate process, VmHWM)",
        {
            "VmHWM after drain": ", ".join(f"{k / 1024:.1f} MB" for k in hwm_kb),
            "VmRSS when connected (before drain)": ", ".join(
                f"{k / 1024:.1f} MB" for k in connected_kb
            ),
            "peak": f"{peak_mb:.1f} MB",
        },
        target=f"peak <= {RSS_TARGET_MB:.0f} MB",
        met=None if quick else peak_mb <= RSS_TARGET_MB,
    )
    return [drain, rss]
