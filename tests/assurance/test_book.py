"""The gateway's assurance book (gateway/assurance.py) and its [assurance] config section."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.assurance import ControlRange, Entries, Policy
from core.clock import site_zone
from core.reading import AssuranceStatus, Glucose, Kind, Reading
from gateway.assurance import AssuranceBook, AssuranceBookError
from gateway.config import parse_config
from gateway.errors import ConfigError
from tests.support.clock import FakeClock
from tests.support.harness import make_reading

VIAL = ControlRange(100, 140, lot="CV-7", expires=date(2027, 3, 1))
METER = Entries(strip_lot="S-1", strip_expires=date(2027, 1, 1), control=VIAL)


def book(path: Path, clock: FakeClock) -> AssuranceBook:
    return AssuranceBook(path, Policy(), site_zone("Asia/Makassar"), clock, qc_log_max=3)


def glucose_reading(clock: FakeClock, value: float, *, control: bool, key: str) -> Reading:
    values = Glucose(glucose_mgdl=value, control_solution=control,
                     sample_type="control_solution" if control else None)
    base = make_reading(int(key) if key.isdigit() else len(key), kind=Kind.GLUCOSE)
    return dataclasses.replace(base, id=f"r-{key}", values=values, measured_at=clock())


def test_entries_and_controls_survive_a_restart_and_re_reads_log_once(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "assurance.json"
    first = book(path, clock)
    first.set_entries("meter", METER)
    failed = glucose_reading(clock, 180, control=True, key="c1")
    resident = glucose_reading(clock, 110, control=False, key="g1")
    assert first.log_controls("meter", [failed, resident]) == 1
    assert first.log_controls("meter", [failed]) == 0  # the meter re-sent its memory
    again = book(path, clock)
    assert again.entries("meter") == METER
    (logged,) = again.qc_log("meter")
    assert (logged.value_mgdl, logged.passed, logged.vial_lot) == (180, False, "CV-7")
    stamped = again.stamp("meter", resident, None)
    assert stamped.assurance is not None
    assert stamped.assurance.status is AssuranceStatus.OUT_OF_POLICY
    assert stamped.assurance.reasons == ("control_failed", "no_passing_control")
    assert stamped.values == resident.values  # data kept as it came


def test_the_qc_log_keeps_the_newest_tests(tmp_path: Path) -> None:
    clock = FakeClock()
    meter = book(tmp_path / "a.json", clock)
    meter.set_entries("meter", METER)
    for i in range(5):
        clock.advance(60)
        meter.log_controls("meter", [glucose_reading(clock, 120 + i, control=True, key=str(i))])
    assert [r.value_mgdl for r in meter.qc_log("meter")] == [122, 123, 124]
    assert meter.verdict("meter", None, None).status is AssuranceStatus.UNKNOWN
    clock.advance(8 * 86400)
    status = meter.as_status("meter", "glucose", 5)
    assert status == {"status": "out_of_policy",
                      "reasons": ["battery_critical", "no_passing_control"]}


def test_expiry_is_judged_on_the_site_date(tmp_path: Path) -> None:
    # 17:00 UTC is already the next day in WITA (UTC+8).
    clock = FakeClock()
    clock.now = clock.now.replace(hour=17)
    meter = book(tmp_path / "a.json", clock)
    wita_today = (clock.now + timedelta(hours=8)).date()
    meter.set_entries("bp", Entries(calibration_due=wita_today - timedelta(days=1)))
    assert meter.as_status("bp", "blood_pressure", None)["reasons"] == ["calibration_overdue"]


@pytest.mark.parametrize("text", ["not json", json.dumps({"version": 9, "devices": {}}),
                                  json.dumps({"version": 1, "devices": {"m": {"qc": [{}]}}})])
def test_a_damaged_book_is_refused_with_what_to_do(tmp_path: Path, text: str) -> None:
    path = tmp_path / "assurance.json"
    path.write_text(text)
    with pytest.raises(AssuranceBookError, match="move it aside"):
        book(path, FakeClock())


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"control_every_days": 0}, "assurance.control_every_days"),
        ({"battery_critical_pct": 120}, "assurance.battery_critical_pct"),
        ({"qc_log_max": 0}, "assurance.qc_log_max"),
        ({"path": ""}, "assurance.path"),
        ({"enabled": "yes"}, "assurance.enabled"),
        ({"control_days": 3}, "assurance.control_days: unknown key"),
    ],
)
def test_assurance_config_mistakes_name_their_key(section: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        parse_config({"assurance": section})


def test_assurance_config_defaults_off_and_paths_inside_the_state_dir() -> None:
    config = parse_config({"gateway": {"state_dir": "/srv/g"}, "assurance": {"enabled": True}})
    assert config.assurance.enabled and config.assurance_path == Path("/srv/g/assurance.json")
    assert not parse_config({}).assurance.enabled
