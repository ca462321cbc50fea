"""systemd units verify cleanly, and the gateway speaks the notify protocol for real."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS = ("gempita-gateway.service", "gempita-central.service")


def verify(tmp_path: Path, units: dict[str, str]) -> str:
    """Run `systemd-analyze verify` in a root with a stub ExecStart; return all it printed.

    It exits 0 on bad values and only warns, so any output at all is a failure.
    """
    root = tmp_path / "root"
    (root / "usr/lib").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd", root / "usr/lib/systemd", symlinks=True)
    stub = root / "opt/gempita/.venv/bin/gempita"
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    unit_dir = root / "etc/systemd/system"
    unit_dir.mkdir(parents=True)
    for name, text in units.items():
        (unit_dir / name).write_text(text)
    result = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            f"--root={root}",
            *(f"/etc/systemd/system/{u}" for u in units),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return (result.stdout + result.stderr).strip() + ("" if result.returncode == 0 else " rc!=0")


def test_units_verify_without_any_warning(tmp_path: Path) -> None:
    units = {u: (REPO / "systemd" / u).read_text() for u in UNITS}
    assert verify(tmp_path, units) == ""


def test_verify_check_catches_a_bad_value(tmp_path: Path) -> None:
    # The check above must be able to fail: a typo'd value only produces a warning.
    text = (REPO / "systemd" / UNITS[0]).read_text().replace("ProtectHome=yes", "ProtectHome=yess")
    assert "protect home" in verify(tmp_path, {UNITS[0]: text}).lower()


def test_gateway_unit_is_notify_with_watchdog_and_hardening() -> None:
    text = (REPO / "systemd" / UNITS[0]).read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "StateDirectory=gempita",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "DeviceAllow=char-ttyUSB rw",
    ):
        assert line in text


def test_gateway_sends_ready_and_watchdog_pings(tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(sock_path))
    server.settimeout(15)
    config = tmp_path / "gateway.toml"
    # No broker on this port: READY must not wait for the network (kiosks start offline).
    config.write_text(
        f'[gateway]\nstate_dir = "{tmp_path / "state"}"\n[mqtt]\nurl = "mqtt://127.0.0.1:9"\n'
    )
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(config)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        messages: list[str] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and sum("WATCHDOG=1" in m for m in messages) < 3:
            messages.append(server.recv(4096).decode())
        assert any(m.startswith("READY=1") for m in messages)
        assert sum("WATCHDOG=1" in m for m in messages) >= 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert "STOPPING=1" in server.recv(4096).decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()


@pytest.mark.parametrize("unit", UNITS)
def test_exec_start_uses_the_cli_with_help(unit: str) -> None:
    text = (REPO / "systemd" / unit).read_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    command = exec_line.split()[1]
    assert exec_line.split()[0].endswith("/gempita") and command in {"run", "central"}


def test_central_unit_reads_its_config_file_after_postgresql() -> None:
    from gateway.cli import build_parser

    text = (REPO / "systemd" / UNITS[1]).read_text()
    lines = text.splitlines()
    exec_line = next(line for line in lines if line.startswith("ExecStart="))
    args = build_parser().parse_args(exec_line.split()[1:])
    # The file in the unit's ConfigurationDirectory, and nothing on the command line that
    # would silently override it (options.py: flags win over the file).
    assert "ConfigurationDirectory=gempita-central" in lines
    assert args.config == "/etc/gempita-central/central.toml"
    assert (args.db, args.broker, args.client_id, args.key_file) == (None, None, None, None)
    after = next(line for line in lines if line.startswith("After=")).split("=", 1)[1].split()
    assert {"postgresql.service", "network-online.target"} <= set(after)
    assert "network-online.target" in next(line for line in lines if line.startswith("Wants="))
