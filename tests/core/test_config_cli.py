"""Bad configuration stops the command with a message naming the key or file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import load_config, parse_config
from gateway.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[mqtt]\nurll = 'mqtt://x'\n", "mqtt.urll: unknown key"),
        ("[mqtt]\nurl = 'http://broker'\n", "mqtt.url: 'http://broker' is not a broker URL"),
        ("[mqtt]\nurl = 'mqtt://broker:99999'\n", "mqtt.url: bad port"),
        ("[mqtt]\nca_file = '/nonexistent/ca.crt'\n", "mqtt.ca_file: file /nonexistent/ca.crt"),
        ("[mqtt]\ncert_file = '/etc/hostname'\n", "cert_file and mqtt.key_file"),
        ("[outbox]\nmax_readings = 'many'\n", "outbox.max_readings: expected a whole number"),
        ("[outbox]\nsynchronous = 'off'\n", "outbox.synchronous"),
        ("[gateway]\nid = 'gw 1'\n", "gateway.id"),
        ("[gateway]\nkind = 'van'\n", "gateway.kind: 'van' must be 'kiosk' or 'kit'"),
        ("[gateway]\ntimezone = 'Mars/Olympus'\n", "gateway.timezone: unknown time zone"),
        ("[brokr]\n", "brokr: unknown section"),
        ("[[devices]]\nname = 'a'\ntransport = 'usb'\n", "devices[0].transport"),
        ("[[devices]]\ntransport = 'ble'\n", "devices[0].name: required"),
        (
            "[[devices]]\nname='a'\ntransport='ble'\n[[devices]]\nname='a'\ntransport='ble'\n",
            "name 'a' is used twice",
        ),
        (
            "[[devices]]\nname='a'\ntransport='serial'\noptions={site_tz='Asia/Bali'}\n",
            "devices[0].options.site_tz: unknown time zone 'Asia/Bali'",
        ),
        ("[gateway\n", "not valid TOML"),
        (
            "[kiosk]\nenabled = true\n[kiosk.settings]\nsite_nam = 'x'\n",
            "kiosk.settings.site_nam: unknown key",
        ),
        (
            "[kiosk]\nenabled = true\n[kiosk.settings]\nprogramme_key_file = '/nonexistent'\n",
            "kiosk.settings.programme_key_file: cannot read /nonexistent",
        ),
    ],
)
def test_bad_config_is_named(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        f"[gateway]\nstate_dir = '{tmp_path}'\n" + toml if "[gateway" not in toml else toml
    )
    result = run_cli("run", "--config", str(path))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("gempita: error: configuration:")
    assert not (tmp_path / "outbox.db").exists()


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    result = run_cli("status", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert f"config file {tmp_path / 'nope.toml'}" in result.stderr


def test_example_config_in_repo_is_valid(tmp_path: Path) -> None:
    # The example names files under /etc/gempita; lay them out under tmp_path instead.
    for name in ("pki/ca.crt", "pki/gw-001.crt", "pki/gw-001.key"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("placeholder")
    text = (REPO / "gateway.example.toml").read_text().replace("/etc/gempita/", f"{tmp_path}/")
    (tmp_path / "gateway.toml").write_text(text)
    config = load_config(tmp_path / "gateway.toml")
    assert config.gateway.id == "gw-001"
    assert config.outbox.synchronous == "full"
    assert {d.transport for d in config.devices} == {"ble", "serial"}


def test_devices_read_their_clocks_in_gateway_timezone_unless_overridden() -> None:
    # Issue 10 item 20: one setting (gateway.timezone) with a per-device override.
    config = parse_config(
        {
            "gateway": {"timezone": "Asia/Jakarta"},
            "devices": [
                {"name": "plain", "transport": "ble", "address": "00:00:00:00:00:01"},
                {"name": "own", "transport": "serial", "options": {"site_tz": "Asia/Jayapura"}},
            ],
        }
    )
    plain, own = config.devices
    assert plain.options["site_tz"] == "Asia/Jakarta"
    assert own.options["site_tz"] == "Asia/Jayapura"
    from drivers.ble.runner import BleRunner, make_runner

    runner = make_runner(plain)
    assert isinstance(runner, BleRunner)
    assert runner.site_tz == "Asia/Jakarta"


def test_defaults_are_sensible() -> None:
    config = parse_config({})
    assert config.outbox.synchronous == "full"
    assert config.mqtt.window == 1000
    assert config.gateway.timezone == "Asia/Makassar"


def test_parse_errors_are_typed() -> None:
    with pytest.raises(ConfigError, match=r"mqtt\.window"):
        parse_config({"mqtt": {"window": 70000}})


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["status"],
        ["outbox", "drain"],
        ["central"],
        ["pki"],
        ["demo"],
        ["decode"],
        ["simulate", "ble"],
        ["simulate", "serial"],
        ["replay"],
        ["devices", "scan"],
        ["devices", "pair"],
    ],
)
def test_every_command_explains_itself(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert "usage: gempita" in result.stdout
    # A description beyond the usage line.
    assert len(result.stdout.splitlines()) > 4
