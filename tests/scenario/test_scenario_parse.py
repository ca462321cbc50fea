"""Issue 10 item 19: scenario files for `transport = "simulated"` BLE devices.

`parse_scenario` turns a TOML file into frozen dataclasses or raises a `ScenarioError` (a
`ConfigError`) that names the file and the field; the gateway's config loader checks every
scenario before anything starts, with relative paths taken from the config file's directory.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from core.devices import DeviceConfig
from core.reading import Kind
from gateway.cli.compose import load_config
from gateway.cli.compose import simulated_runner as make_runner
from gateway.errors import ConfigError
from simulators.ble.scenario import ScenarioError, ScenarioRunner, parse_scenario
from simulators.synthetic import SyntheticRunner

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "simulators" / "scenarios"

BP = """
profile = "blood_pressure"
name = "BLESmart_00000042"
manufacturer = "OMRON HEALTHCARE"
model = "HEM-7155T"
serial = "SIM-0042"
firmware = "1.2"
battery_pct = 80

[clock]
offset_s = -300
drift_ppm = 20
zone = "Asia/Jakarta"
readable = true

[[records]]
systolic = 150
diastolic = 95
pulse = 72
at = 2026-12-01T08:00:00
flags = ["irregular_pulse"]

[[records]]
systolic = 121
diastolic = 79
ago_min = 30

[generate]
every_s = 20

[faults]
refuse_connect_times = 2
disconnect_after_records = 1
"""

GLUCOSE = """
profile = "glucose"
name = "Contour7830H5009999"
unit = "mmol/L"

[[records]]
glucose = 110
meal = "fasting"
at = "2026-12-01T07:30:00"

[[records]]
flags = ["hi"]
at = "2026-12-01T09:00:00"
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_blood_pressure_scenario_is_parsed_whole(tmp_path: Path) -> None:
    scenario = parse_scenario(write(tmp_path / "bp.toml", BP))
    assert scenario.profile is Kind.BLOOD_PRESSURE
    assert scenario.name == "BLESmart_00000042"
    assert scenario.quirk == "standard"
    assert (scenario.manufacturer, scenario.model, scenario.serial, scenario.firmware) == (
        "OMRON HEALTHCARE", "HEM-7155T", "SIM-0042", "1.2"
    )
    assert scenario.clock.offset_s == -300.0
    assert scenario.clock.drift_ppm == 20.0
    assert scenario.clock.zone == "Asia/Jakarta"
    assert scenario.clock.readable is True
    first, second = scenario.records
    assert (first.systolic, first.diastolic, first.pulse) == (150.0, 95.0, 72.0)
    assert first.at == datetime(2026, 12, 1, 8, 0)  # device wall time
    assert first.flags == frozenset({"irregular_pulse"})
    assert second.at is None and second.ago_min == 30.0 and second.pulse is None
    assert scenario.generate is not None and scenario.generate.every_s == 20.0
    assert scenario.faults.refuse_connect_times == 2
    assert scenario.faults.disconnect_after_records == 1
    assert scenario.faults.disconnect_sessions == 1
    # An address is derived from the name, the same on every start (the device's identity).
    assert scenario.address == parse_scenario(tmp_path / "bp.toml").address
    assert len(scenario.address.split(":")) == 6


def test_glucose_scenario_with_hi_record(tmp_path: Path) -> None:
    scenario = parse_scenario(write(tmp_path / "g.toml", GLUCOSE))
    assert scenario.profile is Kind.GLUCOSE
    assert scenario.unit == "mmol/L"
    normal, hi = scenario.records
    assert normal.glucose == 110.0 and normal.meal == "fasting"
    assert normal.at == datetime(2026, 12, 1, 7, 30)
    assert hi.glucose is None and hi.flags == frozenset({"hi"})
    assert scenario.clock.readable is True  # glucose meters have CTS unless told otherwise
    assert scenario.clock.zone is None  # the device's site_tz (gateway.timezone) at run time


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ('name = "x"', "profile", "required"),
        ('profile = "thermometer"', "profile", "blood_pressure or glucose"),
        ('profile = "glucose"\ncolour = "red"', "colour", "unknown key"),
        ('profile = "glucose"\nquirk = "beurer_bm"', "quirk", "not a glucose"),
        ('profile = "glucose"\nquirk = "nope"', "quirk", "standard"),
        ('profile = "glucose"\nunit = "mmHg"', "unit", "mg/dL"),
        ('profile = "glucose"\n[clock]\nzone = "Mars/Base"', "clock.zone", "time zone"),
        ('profile = "glucose"\n[clock]\noffset_s = "soon"', "clock.offset_s", "number"),
        ('profile = "glucose"\n[clock]\nspeed = 1', "clock.speed", "unknown key"),
        (
            'profile = "blood_pressure"\n[[records]]\nsystolic = "high"\ndiastolic = 80\n'
            "ago_min = 1",
            "records[0].systolic", "number",
        ),
        (
            'profile = "glucose"\nquirk = "taidoc_fora"\n[[records]]\nglucose = 90\n'
            'meal = "fasting"\nago_min = 1',
            "records[0].meal", "no Glucose Measurement Context",
        ),
        (
            'profile = "blood_pressure"\n[[records]]\nsystolic = 120\nago_min = 1',
            "records[0].diastolic", "required",
        ),
        (
            'profile = "blood_pressure"\n[[records]]\nsystolic = 120\ndiastolic = 80\n'
            'at = "yesterday"',
            "records[0].at", "ISO",
        ),
        (
            'profile = "blood_pressure"\n[[records]]\nsystolic = 120\ndiastolic = 80',
            "records[0].at", "at or ago_min",
        ),
        (
            'profile = "blood_pressure"\n[[records]]\nsystolic = 120\ndiastolic = 80\n'
            'ago_min = 1\nflags = ["hi"]',
            "records[0].flags", "irregular_pulse",
        ),
        (
            'profile = "glucose"\n[[records]]\nglucose = 300\nflags = ["hi"]\nago_min = 1',
            "records[0].glucose", "hi",
        ),
        ('profile = "glucose"\n[[records]]\nago_min = 1', "records[0].glucose", "required"),
        (
            'profile = "glucose"\n[[records]]\nglucose = 90\nmeal = "lunch"\nago_min = 1',
            "records[0].meal", "fasting",
        ),
        ('profile = "glucose"\nrecords = 3', "records", "array of tables"),
        ('profile = "glucose"\n[generate]\nevery_s = 0', "generate.every_s", "more than 0"),
        (
            'profile = "glucose"\n[faults]\ndisconnect_after_records = -1',
            "faults.disconnect_after_records", "0 or more",
        ),
        ('profile = "glucose"\n[faults]\nrefuse_connect_times = 1.5', "faults.refuse_connect_times",
         "whole number"),
        ('profile = "glucose"\naddress = "nowhere"', "address", "AA:BB:CC:DD:EE:FF"),
        ('profile = "glucose"\nbattery_pct = 140', "battery_pct", "0 to 100"),
    ],
)
def test_bad_scenario_names_file_and_field(
    tmp_path: Path, text: str, field: str, problem: str
) -> None:
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(path)
    error = caught.value
    # A ValueError: the config loader makes it a ConfigError naming devices[i] (exit 2).
    assert isinstance(error, ValueError)
    assert error.path == path and error.field == field
    assert str(path) in str(error) and field in str(error)
    assert problem in str(error)


def test_unreadable_and_invalid_toml_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot be read"):
        parse_scenario(tmp_path / "missing.toml")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        parse_scenario(write(tmp_path / "broken.toml", "profile = \n"))


def test_config_loader_resolves_scenario_against_config_dir(tmp_path: Path) -> None:
    (tmp_path / "scen").mkdir()
    write(tmp_path / "scen" / "bp.toml", BP)
    config_path = write(
        tmp_path / "gateway.toml",
        f'[gateway]\nstate_dir = "{tmp_path}"\n\n[[devices]]\nname = "bp-sim"\n'
        'transport = "simulated"\noptions = { scenario = "scen/bp.toml" }\n',
    )
    config = load_config(config_path)
    (device,) = config.devices
    assert device.options["scenario"] == str(tmp_path / "scen" / "bp.toml")


def test_config_loader_rejects_a_bad_scenario_naming_device_file_and_field(
    tmp_path: Path,
) -> None:
    write(tmp_path / "bp.toml", BP.replace("systolic = 150", 'systolic = "150/95"'))
    config_path = write(
        tmp_path / "gateway.toml",
        f'[gateway]\nstate_dir = "{tmp_path}"\n\n[[devices]]\nname = "bp-sim"\n'
        'transport = "simulated"\noptions = { scenario = "bp.toml" }\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    message = str(caught.value)
    assert "devices[0].options.scenario" in message
    assert str(tmp_path / "bp.toml") in message and "records[0].systolic" in message


def test_config_loader_rejects_a_missing_scenario_file_and_a_kind_mismatch(
    tmp_path: Path,
) -> None:
    config_path = write(
        tmp_path / "gateway.toml",
        f'[gateway]\nstate_dir = "{tmp_path}"\n\n[[devices]]\nname = "g"\n'
        'transport = "simulated"\noptions = { scenario = "nope.toml" }\n',
    )
    with pytest.raises(ConfigError, match=r"devices\[0\]\.options\.scenario.*nope\.toml"):
        load_config(config_path)
    write(tmp_path / "g.toml", GLUCOSE)
    write(
        config_path,
        f'[gateway]\nstate_dir = "{tmp_path}"\n\n[[devices]]\nname = "g"\nkind = "blood_pressure"'
        '\ntransport = "simulated"\noptions = { scenario = "g.toml" }\n',
    )
    with pytest.raises(ConfigError, match="kind"):
        load_config(config_path)


def test_gempita_run_exits_2_on_a_bad_scenario(tmp_path: Path) -> None:
    write(tmp_path / "bp.toml", BP.replace('zone = "Asia/Jakarta"', 'zone = "Asia/Nowhere"'))
    config_path = write(
        tmp_path / "gateway.toml",
        f'[gateway]\nstate_dir = "{tmp_path / "state"}"\n\n[[devices]]\nname = "bp-sim"\n'
        'transport = "simulated"\noptions = { scenario = "bp.toml" }\n',
    )
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(config_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "clock.zone" in done.stderr and str(tmp_path / "bp.toml") in done.stderr


def test_simulated_without_scenario_stays_synthetic(tmp_path: Path) -> None:
    plain = DeviceConfig(name="s", transport="simulated", options={"count": 3})
    assert isinstance(make_runner(plain), SyntheticRunner)
    path = write(tmp_path / "g.toml", GLUCOSE)
    scenario = DeviceConfig(name="g", transport="simulated", options={"scenario": str(path)})
    assert isinstance(make_runner(scenario), ScenarioRunner)


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_example_scenarios_parse(example: Path) -> None:
    parse_scenario(example)


def test_there_are_example_scenarios() -> None:
    names = {p.name for p in EXAMPLES.glob("*.toml")}
    assert {"bp-omron.toml", "glucose-contour.toml"} <= names
