"""systemd units verify cleanly, the gateway speaks the notify protocol for real, and the USB
auto-export (udev rule + templated unit) agrees with itself and runs the real export."""

from __future__ import annotations

import os
import re
import shlex
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
EXPORT_UNIT = "gempita-bundle-export@.service"
USB_RULES = REPO / "systemd" / "99-gempita-usb.rules"
# What verify checks a template as: the instance the udev rule would start for /dev/sdb1.
EXPORT_INSTANCE = "gempita-bundle-export@media-gempita-sdb1.service"
# Commands the units run besides gempita: verify wants them executable inside its root.
HOST_COMMANDS = ("/usr/bin/test", "/usr/bin/systemd-umount")


def verify(tmp_path: Path, units: dict[str, str]) -> str:
    """Run `systemd-analyze verify` in a root with a stub ExecStart; return all it printed.

    It exits 0 on bad values and only warns, so any output at all is a failure.
    """
    root = tmp_path / "root"
    (root / "usr/lib").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd", root / "usr/lib/systemd", symlinks=True)
    for command in ("/opt/gempita/.venv/bin/gempita", *HOST_COMMANDS):
        stub = root / command.lstrip("/")
        stub.parent.mkdir(parents=True, exist_ok=True)
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
            *(f"/etc/systemd/system/{EXPORT_INSTANCE if u == EXPORT_UNIT else u}" for u in units),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return (result.stdout + result.stderr).strip() + ("" if result.returncode == 0 else " rc!=0")


def test_units_verify_without_any_warning(tmp_path: Path) -> None:
    units = {u: (REPO / "systemd" / u).read_text() for u in (*UNITS, EXPORT_UNIT)}
    assert verify(tmp_path, units) == ""


@pytest.mark.parametrize("unit", [UNITS[0], EXPORT_UNIT])
def test_verify_check_catches_a_bad_value(tmp_path: Path, unit: str) -> None:
    # The check above must be able to fail: a typo'd value only produces a warning.
    text = (REPO / "systemd" / unit).read_text()
    assert "ProtectHome=yes\n" in text
    text = text.replace("ProtectHome=yes", "ProtectHome=yess")
    assert "protect home" in verify(tmp_path, {unit: text}).lower()


def test_the_commands_the_units_stub_exist_on_the_host() -> None:
    for command in HOST_COMMANDS:
        assert os.access(command, os.X_OK), command


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


def _usb_rule() -> str:
    (rule,) = [
        line for line in USB_RULES.read_text().splitlines() if line and not line.startswith("#")
    ]
    return rule


def _rule_value(rule: str, key: str) -> str:
    match = re.search(re.escape(key) + r'\+?==?"([^"]*)"', rule)
    assert match, f"{key} not in the rule"
    return match.group(1)


def test_the_udev_rule_matches_only_usb_partitions_with_a_filesystem() -> None:
    rule = _usb_rule()
    assert _rule_value(rule, "ACTION") == "add"
    assert _rule_value(rule, "SUBSYSTEM") == "block"
    assert _rule_value(rule, "SUBSYSTEMS") == "usb"
    assert _rule_value(rule, "ENV{DEVTYPE}") == "partition"
    assert _rule_value(rule, "ENV{ID_FS_USAGE}") == "filesystem"
    # Without the systemd tag PID 1 ignores SYSTEMD_WANTS.
    assert _rule_value(rule, "TAG") == "systemd"


def test_the_rule_mounts_where_the_unit_it_wants_exports() -> None:
    rule = _usb_rule()
    mount = shlex.split(_rule_value(rule, "RUN{program}").replace("%k", "sdb1"))
    wanted = _rule_value(rule, "ENV{SYSTEMD_WANTS}").replace("%k", "sdb1")
    assert mount[0] == "/usr/bin/systemd-mount" and os.access(mount[0], os.X_OK)
    # Blocking inside a udev rule deadlocks: PID 1 waits for udev to finish the device.
    assert "--no-block" in mount
    options = [a.split("=", 1)[0] for a in mount[1:] if a.startswith("--")]
    usage = subprocess.run(
        [mount[0], "--help"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    for option in options:
        assert re.search(rf"\s{re.escape(option)}[=\s]", usage), (
            f"{option}: unknown to systemd-mount"
        )
    what, where = mount[-2:]
    assert what == "$devnode"
    assert wanted == EXPORT_INSTANCE
    template, instance = wanted.removesuffix(".service").split("@")
    assert f"{template}@.service" == EXPORT_UNIT
    unescaped = subprocess.run(
        ["systemd-escape", "--unescape", "--path", instance],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
    assert unescaped == where == "/media/gempita/sdb1"


def _unit_commands(mount: Path, config: Path) -> dict[str, list[str]]:
    """The export unit's Exec lines for `mount`, gempita run from this checkout."""
    commands: dict[str, list[str]] = {}
    for line in (REPO / "systemd" / EXPORT_UNIT).read_text().splitlines():
        key, sep, value = line.partition("=")
        if not sep or not key.startswith("Exec"):
            continue
        argv = shlex.split(value.lstrip("+").replace("%f", str(mount)))
        if argv[0] == "/opt/gempita/.venv/bin/gempita":
            argv[:1] = [sys.executable, "-m", "gateway.cli"]
        commands[key] = [str(config) if a == "/etc/gempita/gateway.toml" else a for a in argv]
    return commands


@pytest.mark.slow
def test_the_export_unit_writes_bundles_only_to_a_marked_stick(tmp_path: Path) -> None:
    from tests.bundle.cli import fill, write_config
    from tests.bundle.keys import make_keys

    keys = make_keys(tmp_path / "pki")
    config = write_config(tmp_path / "kit", keys)
    fill(config, range(6))
    stick = tmp_path / "stick"
    stick.mkdir()
    commands = _unit_commands(stick, config)
    assert set(commands) == {"ExecCondition", "ExecStart", "ExecStopPost"}
    assert commands["ExecStopPost"] == ["/usr/bin/systemd-umount", str(stick)]

    def run(key: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            commands[key], cwd=REPO, capture_output=True, text=True, timeout=180, check=False
        )

    # A stick without the marker: the condition says skip (exit 1, not a failure: 1..254).
    assert run("ExecCondition").returncode == 1
    (stick / "GEMPITA-KIT").write_text("")
    assert run("ExecCondition").returncode == 0
    done = run("ExecStart")
    assert done.returncode == 0, done.stderr
    assert "exported: 6 unconfirmed readings in 1 bundle(s)" in done.stdout
    assert len(list((stick / "gempita").glob("*.gempita-bundle"))) == 1
