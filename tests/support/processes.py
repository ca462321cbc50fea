"""Run the real `gempita central` and `gempita run` as processes (black-box fault tests)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class GempitaProcess:
    """One `python -m gateway.cli ...` child, its output in a log file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args = args
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GempitaProcess:
        with self.log.open("ab") as handle:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", *self.args],
                stdout=handle,
                stderr=handle,
                cwd=ROOT,
            )
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_log(self, needle: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.args[0]} exited {self.proc.returncode}:\n{self.text()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} in the log within {timeout} s:\n{self.text()}")
            time.sleep(0.05)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean DISCONNECT, nothing flushed, as a crash or the OOM killer does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def central_process(
    broker_url: str, db: Path | str, log: Path, client_id: str = "central-1"
) -> GempitaProcess:
    """`gempita central`; `db` is a SQLite file or a store URL (`central_db_url`)."""
    url = f"sqlite:///{db}" if isinstance(db, Path) else db
    return GempitaProcess(
        ["central", "--broker", broker_url, "--db", url, "--client-id", client_id], log
    )


def gateway_process(config: Path, log: Path) -> GempitaProcess:
    return GempitaProcess(["run", "--config", str(config)], log)


def write_gateway_config(
    path: Path,
    state_dir: Path,
    broker_url: str,
    *,
    device_records: int = 0,
    extra: str = "",
    kind: str = "kiosk",
) -> Path:
    """A `gempita run` config; with `device_records`, one simulated BP monitor streaming them."""
    device = (
        f"""
[[devices]]
name = "bp-stream"
transport = "simulated"
kind = "blood_pressure"
options = {{ rate_per_s = 200, batch = 5, count = {device_records} }}
"""
        if device_records
        else ""
    )
    path.write_text(
        f"""
[gateway]
id = "gw-001"
site_id = "fault-test"
kind = "{kind}"
state_dir = "{state_dir}"

[mqtt]
url = "{broker_url}"
window = 200
backoff_initial_s = 0.05
backoff_max_s = 0.5
status_interval_s = 1.0
{extra}
{device}"""
    )
    return path
