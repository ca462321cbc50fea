"""`gempita demo measure` against a real `gempita demo` process: the chosen values reach
central (its printed line and its SQLite), and --no-auto-resident really stops the background
resident. One demo process serves every `measure` call: each start costs seconds."""

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from core.reading import Kind
from tests.kiosk_e2e.helpers import NIK_A, HttpResident
from tests.support.mosquitto import free_port

REPO = Path(__file__).resolve().parents[2]
MEMORY_DUMP = 2 + 5  # the demo's BP monitor and glucose meter memories
ARRIVAL_S = 30.0  # one device session every 5 s; generous on a loaded 2-core machine


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    state: Path
    kiosk_port: int
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
            [sys.executable, "-m", "gateway.cli", "demo", "measure",
             "--state-dir", str(self.state), *argv],
            cwd=REPO, capture_output=True, text=True, timeout=30, check=False,
        )

    def central_payloads(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.state / "central.db") as db:
            rows = db.execute("SELECT payload FROM readings").fetchall()
        return [json.loads(payload) for (payload,) in rows]

    def central_values(self) -> list[dict[str, Any]]:
        return [payload["values"] for payload in self.central_payloads()]


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    state = tmp_path / "demo"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gateway.cli", "demo",
            "--state-dir", str(state), "--kiosk-port", str(port),
            # --every 1 as well: --no-auto-resident must win, or readings arrive every second.
            "--every", "1", "--no-auto-resident",
        ],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # so a failed test can stop the demo's mosquitto too
    )
    assert proc.stdout is not None
    running = Demo(proc, state, port)
    reader = threading.Thread(target=_pump, args=(proc.stdout, running.lines), daemon=True,
                              name="demo-stdout")
    reader.start()
    try:
        yield running
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


def test_demo_measure_sends_chosen_readings_through_the_real_chain(demo: Demo) -> None:
    dump = demo.stored_within(60, lambda s: len(s) >= MEMORY_DUMP)
    assert len(dump) == MEMORY_DUMP, demo.seen
    assert (demo.state / "demo.sock").exists()

    # A control-solution test is measured, and nothing reaches central: the gateway drops
    # it, and no background resident measures (it would every second with --every 1).
    done = demo.measure("--control-solution")
    assert done.returncode == 0, done.stderr
    assert "larutan kontrol" in done.stdout
    quiet = demo.stored_within(12, lambda s: bool(s))
    assert quiet == [], quiet

    done = demo.measure("--bp", "150/95", "--pulse", "72")
    assert done.returncode == 0, done.stderr
    assert "Terkirim" in done.stdout and "150/95 mmHg, nadi 72" in done.stdout
    got = demo.stored_within(ARRIVAL_S, lambda s: bool(s))
    assert len(got) == 1 and "BP 150.0/95.0 mmHg pulse 72.0" in got[0], demo.seen

    done = demo.measure("--glucose", "HI")
    assert done.returncode == 0, done.stderr
    got = demo.stored_within(ARRIVAL_S, lambda s: bool(s))
    assert len(got) == 1 and "glucose HI" in got[0], demo.seen

    done = demo.measure("--glucose", "250", "--fasting")
    assert done.returncode == 0, done.stderr
    got = demo.stored_within(ARRIVAL_S, lambda s: bool(s))
    assert len(got) == 1 and "glucose 250.0 mg/dL" in got[0], demo.seen

    values = demo.central_values()
    assert len(values) == MEMORY_DUMP + 3  # the control solution is not among them
    bp = [v for v in values if v.get("systolic_mmhg") == 150.0]
    assert len(bp) == 1
    assert (bp[0]["diastolic_mmhg"], bp[0]["pulse_bpm"]) == (95.0, 72.0)
    hi = [v for v in values if v.get("hi")]
    assert len(hi) == 1 and hi[0]["glucose_mgdl"] is None and not hi[0]["lo"]
    fasting = [v for v in values if v.get("glucose_mgdl") == 250.0]
    assert len(fasting) == 1 and fasting[0]["meal"] == "fasting"
    assert not any(v.get("control_solution") for v in values)

    # Held for the kiosk: the resident's measure step takes it instead of a random value.
    done = demo.measure("--bp", "185/110", "--pulse", "88", "--at-kiosk")
    assert done.returncode == 0, done.stderr
    assert "Disimpan untuk kios" in done.stdout
    assert demo.stored_within(7, lambda s: bool(s)) == []  # not measured yet
    with HttpResident(f"http://127.0.0.1:{demo.kiosk_port}", NIK_A, "1985") as visit:
        visit.identify_and_choose(Kind.BLOOD_PRESSURE)
        visit.ready()
        result = visit.wait_result(timeout=ARRIVAL_S)
        visit.finish()
    assert "185" in result and "110" in result
    got = demo.stored_within(ARRIVAL_S, lambda s: bool(s))
    assert len(got) == 1 and "BP 185.0/110.0 mmHg pulse 88.0" in got[0], demo.seen
    kiosk = [p for p in demo.central_payloads() if p["values"].get("systolic_mmhg") == 185.0]
    assert len(kiosk) == 1 and kiosk[0]["bound"] and kiosk[0]["subject"] is not None
