"""A real `gempita demo` process for tests: its stdout read with deadlines, a clean Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests.support.mosquitto import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    state: Path
    kiosk_port: int
    central_port: int = 0
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def next_line(self, deadline: float) -> str | None:
        """The next stdout line, or None at the deadline (never blocks past it)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            line = self.lines.get(timeout=remaining)
        except queue.Empty:
            return None
        if line is None:
            raise AssertionError(f"the demo ended (rc {self.proc.poll()}): {self.seen}")
        self.seen.append(line)
        return line

    def stored_within(self, seconds: float, until: Callable[[list[str]], bool]) -> list[str]:
        """Central's "stored" lines printed within `seconds`, stopping once `until` holds."""
        stored: list[str] = []
        deadline = time.monotonic() + seconds
        while not until(stored):
            line = self.next_line(deadline)
            if line is None:
                break
            if "central stored gw-demo" in line:
                stored.append(line)
        return stored

    def measure(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "gateway.cli",
                "demo",
                "measure",
                "--state-dir",
                str(self.state),
                *argv,
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def central_payloads(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.state / "central.db") as db:
            # The live gateway's only: the demo's seeded history comes from others.
            query = "SELECT payload FROM readings WHERE gateway_id = 'gw-demo'"
            rows = db.execute(query).fetchall()
        return [json.loads(payload) for (payload,) in rows]

    def central_values(self) -> list[dict[str, Any]]:
        return [payload["values"] for payload in self.central_payloads()]


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


@contextmanager
def running_demo(tmp_path: Path, *args: str) -> Iterator[Demo]:
    """`gempita demo --state-dir tmp/demo --kiosk-port FREE *args`, stopped as Ctrl-C stops
    it (SIGINT to its process group); leaving checks it exited 0 without a traceback."""
    state = tmp_path / "demo"
    port, central_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "demo",
            "--state-dir",
            str(state),
            "--kiosk-port",
            str(port),
            "--central-port",
            str(central_port),
            *args,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so a failed test can stop the demo's mosquitto too
    )
    assert proc.stdout is not None
    running = Demo(proc, state, port, central_port)
    # A reader thread and a queue: a bare readline() would block past any deadline.
    reader = threading.Thread(
        target=_pump, args=(proc.stdout, running.lines), daemon=True, name="demo-stdout"
    )
    reader.start()
    try:
        yield running
        # Ctrl-C in a terminal signals the whole foreground process group, not one process.
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(30) == 0
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(10)  # at EOF now; closing its pipe under it would raise in the thread
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
