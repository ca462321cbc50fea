"""`gempita demo` runs the whole chain and stops cleanly on Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tests.support.mosquitto import free_port

REPO = Path(__file__).resolve().parents[2]


def test_demo_shows_readings_stored_by_central_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "demo",
            "--state-dir",
            str(tmp_path / "demo"),
            "--kiosk-port",
            str(port),
            "--every",
            "1",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so a failed test can stop the demo's mosquitto too
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        # A reader thread and a queue: a bare readline() would block past the deadline.
        queued: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(
            target=lambda: [queued.put(line) for line in proc.stdout or ()],
            daemon=True, name="demo-stdout",
        )
        reader.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum("central stored" in x for x in lines) < 8:
            with contextlib.suppress(queue.Empty):
                lines.append(queued.get(timeout=max(0.01, deadline - time.monotonic())))
        stored = [x for x in lines if "central stored gw-demo" in x]
        assert len(stored) >= 8, lines
        assert any("BP " in x for x in stored)
        assert any("glucose " in x for x in stored)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200
            assert "Gempita" in page.read().decode()
        # The status file is refreshed every 2 s: ask until it reflects the connection.
        command = [sys.executable, "-m", "gateway.cli", "status", "--json", "--config"]
        config = str(tmp_path / "demo" / "gateway.toml")
        for _ in range(20):
            done = subprocess.run(
                [*command, config], cwd=REPO, capture_output=True, text=True, check=True
            )
            status = json.loads(done.stdout)
            if status["broker"]["connected"] and status["outbox"]["confirmed"]:
                break
            time.sleep(0.5)
        assert status["running"]
        assert status["broker"]["connected"]
        assert status["outbox"]["confirmed"] >= 8
        # Ctrl-C in a terminal signals the whole foreground process group, not one process.
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(30) == 0
        reader.join(10)  # at EOF now; closing its pipe under it would raise in the thread
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
