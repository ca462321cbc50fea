"""(e) `gempita run` start -> ready, against the bare interpreter's start-up in the same run.

Each start spawns `python -m gateway.cli run --config X` with $NOTIFY_SOCKET pointing at a
datagram socket we own; the time runs from just before the spawn until READY=1 arrives (the
gateway sends it once the outbox is open and every task is started). Then SIGTERM, and the next
start reuses the same state directory, as a restarted kiosk does. The very first start, which
creates and migrates the outbox, is reported on its own. Baseline: `python -c pass`, spawned
and waited for the same way.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import GATEWAY_ID, Result, load_average, mosquitto

READY_TARGET_S = 1.0


def _config(state_dir: Path, url: str) -> Path:
    path = state_dir / "gateway.toml"
    path.write_text(
        f'[gateway]\nid = "{GATEWAY_ID}"\nstate_dir = "{state_dir}"\nlog_level = "WARNING"\n\n'
        f'[mqtt]\nurl = "{url}"\n'
    )
    return path


def start_to_ready(config: Path, notify: Path, timeout_s: float = 30.0) -> float:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        notify.unlink(missing_ok=True)
        sock.bind(str(notify))
        sock.settimeout(0.2)
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--config", str(config)],
            env={**_env(), "NOTIFY_SOCKET": str(notify)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            while True:
                try:
                    message = sock.recv(4096)
                except TimeoutError:
                    if proc.poll() is not None:
                        err = proc.stderr.read().decode() if proc.stderr else ""
                        raise RuntimeError(f"gateway exited {proc.returncode}: {err}") from None
                    if time.perf_counter() - start > timeout_s:
                        raise RuntimeError("no READY=1 in time") from None
                    continue
                if b"READY=1" in message.split(b"\n"):
                    ready = time.perf_counter() - start
                    break
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
    return ready


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}


def bare_python() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def run_startup(starts: int = 5, *, quick: bool = False) -> Result:
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="gempita-bench-start-") as tmp, mosquitto() as url:
        state = Path(tmp)
        config = _config(state, url)
        notify = state / "notify.sock"
        first = start_to_ready(config, notify)
        ready = [start_to_ready(config, notify) for _ in range(starts)]
        bare = [bare_python() for _ in range(starts)]
    med = statistics.median(ready)
    return Result(
        "(e) `gempita run` start -> READY=1 (sd_notify)",
        {
            "starts (existing outbox)": ", ".join(f"{t * 1000:.0f}" for t in ready) + " ms",
            "median": f"{med * 1000:.0f} ms",
            "first start (creates + migrates the outbox)": f"{first * 1000:.0f} ms",
            "baseline `python -c pass` median": f"{statistics.median(bare) * 1000:.0f} ms",
            "load average before": load_before,
        },
        target=f"median <= {READY_TARGET_S * 1000:.0f} ms",
        met=None if quick else med <= READY_TARGET_S,
    )
