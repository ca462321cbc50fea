"""What every benchmark shares: a private mosquitto, realistic readings, results, /proc reads."""

from __future__ import annotations

import contextlib
import getpass
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.reading import (
    BloodPressure,
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    TimeQuality,
    Transport,
    reading_id,
)

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
GATEWAY_ID = "gw-bench"


@dataclass(slots=True)
class Result:
    """One benchmark's figures, its target and whether the target was met."""

    name: str
    figures: dict[str, str] = field(default_factory=dict)
    target: str = ""
    met: bool | None = None  # None: no target applies (e.g. quick mode sizes)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        verdict = {True: "MET", False: "MISSED", None: "n/a"}[self.met]
        lines = [f"== {self.name}"]
        width = max((len(k) for k in self.figures), default=0)
        lines += [f"   {k.ljust(width)} : {v}" for k, v in self.figures.items()]
        lines.append(f"   target: {self.target} -> {verdict}")
        lines += [f"   note: {n}" for n in self.notes]
        return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def listener(url: str) -> Iterator[None]:
    """Central's stand-in (bench/listener.py) in its own process, subscribed before we go."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.listener", url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("bench listener did not subscribe")
        yield
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@contextlib.contextmanager
def mosquitto(*, stand_in: bool = True) -> Iterator[str]:
    """A fresh in-memory mosquitto on a free loopback port; yields its mqtt:// URL.

    `stand_in=False`: no central stand-in subscribed (a benchmark of central itself).
    """
    with tempfile.TemporaryDirectory(prefix="gempita-bench-broker-") as tmp:
        port = free_port()
        conf = Path(tmp) / "mosquitto.conf"
        # No persistence: the broker stores nothing to disk, so it measures the network path.
        # Limits off as in production (the gateway enforces its own window).
        conf.write_text(
            "\n".join(
                [
                    f"listener {port} 127.0.0.1",
                    f"user {getpass.getuser()}",
                    "allow_anonymous true",
                    "max_queued_messages 1000000",
                    "max_inflight_messages 0",
                    f"log_dest file {tmp}/mosquitto.log",
                    "log_type error",
                    "log_type warning",
                ]
            )
            + "\n"
        )
        proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"mosquitto exited with {proc.returncode}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("mosquitto did not listen within 10 s") from None
                    time.sleep(0.02)
            url = f"mqtt://127.0.0.1:{port}"
            if stand_in:
                with listener(url):
                    yield url
            else:
                yield url
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


_BP_DEVICE = DeviceIdentity(
    Transport.BLE, "C4:7C:8D:6A:3E:12", "OMRON", "HEM-7155T", "20231104512", "1.2.0"
)
_GLUCOSE_DEVICE = DeviceIdentity(
    Transport.SERIAL, "/dev/ttyUSB0", "LifeScan", "OneTouch Ultra 2", "C2K4912FT", None
)
_START = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)


def make_reading(n: int, prefix: str = "") -> Reading:
    """Reading number n: alternately an unbound blood pressure and an unbound glucose reading.

    Unbound readings (no subject) are the smallest real payloads the schema produces; `prefix`
    keeps ids of separate runs apart.
    """
    key = f"{prefix}{n}"
    measured = _START + timedelta(seconds=n)
    if n % 2 == 0:
        return Reading(
            id=reading_id(_BP_DEVICE, key),
            kind=Kind.BLOOD_PRESSURE,
            gateway_id=GATEWAY_ID,
            device=_BP_DEVICE,
            record_key=key,
            measured_at=measured,
            time_quality=TimeQuality.DEVICE_CLOCK,
            values=BloodPressure(110.0 + n % 60, 70.0 + n % 30, 90.0, 60.0 + n % 40),
            device_time=(measured + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S"),
            clock_offset_s=1.5,
        )
    return Reading(
        id=reading_id(_GLUCOSE_DEVICE, key),
        kind=Kind.GLUCOSE,
        gateway_id=GATEWAY_ID,
        device=_GLUCOSE_DEVICE,
        record_key=key,
        measured_at=measured,
        time_quality=TimeQuality.DEVICE_CLOCK,
        values=Glucose(70.0 + n % 200, "mg/dL", 70.0 + n % 200, None, None, "fasting"),
        device_time=(measured + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S"),
        clock_offset_s=-2.5,
    )


def make_readings(count: int, prefix: str = "") -> list[Reading]:
    return [make_reading(n, prefix) for n in range(count)]


def proc_status(pid: int) -> dict[str, int]:
    """Memory fields of /proc/<pid>/status in kB (VmRSS, VmHWM, ...)."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.startswith("Vm") and value.strip().endswith("kB"):
            out[key] = int(value.split()[0])
    return out


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
