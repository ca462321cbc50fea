"""Issue 10 item 19, end to end: `gempita run` (a real process) reads simulated BLE meters
described by scenario files, through the real BLE runner and bleak's client API, into a real
mosquitto and the central service. Every wait has a deadline.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from central.service import CentralService
from core.payload import decode_reading
from core.reading import BloodPressure, Glucose, Reading, TimeQuality, Transport
from tests.support.harness import running_central, wait_for
from tests.support.mosquitto import Mosquitto
from tests.support.processes import GempitaProcess, gateway_process

WITA = ZoneInfo("Asia/Makassar")  # gateway.timezone's default: the meters' wall clock


def device_local(minutes_ago: float) -> datetime:
    """A device wall-clock time (WITA, naive) `minutes_ago` before now."""
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return moment.astimezone(WITA).replace(tzinfo=None, microsecond=0)


def wita_utc(local: datetime) -> datetime:
    return local.replace(tzinfo=WITA).astimezone(UTC)


def toml_time(local: datetime) -> str:
    return local.isoformat()  # a TOML local date-time, unquoted


def write_config(path: Path, state: Path, broker_url: str, devices: dict[str, str]) -> Path:
    device_tables = "".join(
        f"""
[[devices]]
name = "{name}"
transport = "simulated"
options = {{ scenario = "{scenario}", poll_s = 0.5, retry_initial_s = 0.2, retry_max_s = 1 }}
"""
        for name, scenario in devices.items()
    )
    path.write_text(
        f"""
[gateway]
id = "gw-001"
site_id = "scenario-test"
state_dir = "{state}"

[mqtt]
url = "{broker_url}"
backoff_initial_s = 0.05
backoff_max_s = 0.5
status_interval_s = 1.0
{device_tables}"""
    )
    return path


def central_readings(central: CentralService) -> list[Reading]:
    with central.store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT payload FROM readings").scalars().all()
    return [decode_reading(str(row).encode())[0] for row in rows]


async def run_until_settled(
    mosquitto: Mosquitto, config: Path, tmp_path: Path, count: int
) -> tuple[list[Reading], GempitaProcess]:
    """A real `gempita run` until central holds exactly `count` readings; then a clean stop."""
    async with running_central(mosquitto.url, tmp_path / "central.db") as central:
        gateway = gateway_process(config, tmp_path / "gateway.log").start()
        try:
            await settle_exactly(central, count, gateway)
        finally:
            assert gateway.stop() == 0, gateway.text()[-4000:]
        return central_readings(central), gateway


async def settle_exactly(central: CentralService, count: int, gateway: GempitaProcess) -> None:
    """Wait for `count` readings at central, then let the gateway run more sessions (each
    re-reads the meters' memory) and check that nothing more arrives."""

    def arrived() -> bool:
        if not gateway.alive:
            raise AssertionError(f"gempita run exited:\n{gateway.text()}")
        return central.store.count() >= count

    await wait_for(arrived, 45, f"{count} readings at central")
    await asyncio.sleep(3.0)  # several more sessions at poll_s = 0.5
    assert central.store.count() == count, gateway.text()[-4000:]


def bp_scenario(path: Path, records: list[tuple[int, int, int, datetime]], extra: str = "") -> Path:
    body = "".join(
        f"""
[[records]]
systolic = {s}
diastolic = {d}
pulse = {p}
at = {toml_time(at)}
"""
        for s, d, p, at in records
    )
    path.write_text(
        f"""
profile = "blood_pressure"
name = "BLESmart_0000A001"
manufacturer = "OMRON HEALTHCARE"
model = "HEM-7155T"
serial = "SIM-BP-0001"
firmware = "1.0"

[clock]
offset_s = -300     # the monitor's clock is five minutes slow
readable = true     # a Date Time (0x2A08) the gateway reads, then sets
{extra}
{body}"""
    )
    return path


async def test_two_scenario_devices_deliver_exactly_their_memory(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    bp_records = [
        (150, 95, 72, device_local(180)),
        (128, 82, 66, device_local(120)),
        (119, 77, 80, device_local(60)),
    ]
    bp_scenario(scenarios / "bp.toml", bp_records)
    fasting_at, hi_at = device_local(240), device_local(30)
    (scenarios / "glucose.toml").write_text(
        f"""
profile = "glucose"
name = "Contour7830H5000777"
serial = "7830H5000777"

[clock]
offset_s = 95       # this meter runs 95 s fast; the gateway reads it over CTS

[[records]]
glucose = 110
meal = "fasting"
at = {toml_time(fasting_at)}

[[records]]
flags = ["hi"]
at = {toml_time(hi_at)}
"""
    )
    # Relative scenario paths are taken from the config file's directory (the process runs
    # from the repository root).
    config = write_config(
        tmp_path / "gateway.toml", tmp_path / "gw", mosquitto.url,
        {"bp-sim": "scenarios/bp.toml", "glucose-sim": "scenarios/glucose.toml"},
    )
    readings, _ = await run_until_settled(mosquitto, config, tmp_path, 5)

    bp = sorted((r for r in readings if isinstance(r.values, BloodPressure)),
                key=lambda r: r.measured_at)
    glucose = sorted((r for r in readings if isinstance(r.values, Glucose)),
                     key=lambda r: r.measured_at)
    assert len(bp) == 3 and len(glucose) == 2
    for reading, (systolic, diastolic, pulse, at) in zip(bp, bp_records, strict=True):
        assert reading.device.transport is Transport.BLE  # the real BLE path, not synthetic
        assert reading.device.serial == "SIM-BP-0001"
        assert reading.device.manufacturer == "OMRON HEALTHCARE"
        assert (reading.values.systolic_mmhg, reading.values.diastolic_mmhg,
                reading.values.pulse_bpm) == (systolic, diastolic, pulse)
        assert reading.device_time == at.isoformat()
        # Five minutes slow: the true time is the device's time plus 300 s.
        assert reading.time_quality is TimeQuality.DEVICE_CLOCK
        assert reading.clock_offset_s is not None and abs(reading.clock_offset_s + 300) <= 2
        expected = wita_utc(at) + timedelta(seconds=300)
        assert abs((reading.measured_at - expected).total_seconds()) <= 2
    fasting, hi = glucose
    assert isinstance(fasting.values, Glucose) and isinstance(hi.values, Glucose)
    assert fasting.values.glucose_mgdl == 110.0 and fasting.values.meal == "fasting"
    assert not fasting.values.hi
    assert hi.values.hi and hi.values.glucose_mgdl is None
    assert hi.device.serial == "7830H5000777"
    for reading, at in ((fasting, fasting_at), (hi, hi_at)):
        assert reading.clock_offset_s is not None and abs(reading.clock_offset_s - 95) <= 2
        expected = wita_utc(at) - timedelta(seconds=95)
        assert abs((reading.measured_at - expected).total_seconds()) <= 2
        assert reading.time_quality is TimeQuality.SYNCED  # within the 120 s tolerance


async def test_faulty_scenario_devices_still_deliver_every_record_once(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    bp_records = [(130 + i, 85, 70 + i, device_local(200 - 40 * i)) for i in range(3)]
    bp_scenario(
        tmp_path / "bp.toml", bp_records,
        extra="[faults]\nrefuse_connect_times = 2\ndisconnect_after_records = 1\n",
    )
    glucose_records = [(90 + 10 * i, device_local(300 - 50 * i)) for i in range(5)]
    (tmp_path / "glucose.toml").write_text(
        """
profile = "glucose"
name = "Contour7830H5000888"
serial = "7830H5000888"

[faults]
disconnect_after_records = 2   # the link drops after two records...
disconnect_sessions = 2        # ...in each of the first two sessions
refuse_connect_times = 1
"""
        + "".join(
            f"\n[[records]]\nglucose = {value}\nat = {toml_time(at)}\n"
            for value, at in glucose_records
        )
    )
    config = write_config(
        tmp_path / "gateway.toml", tmp_path / "gw", mosquitto.url,
        {"bp-faulty": str(tmp_path / "bp.toml"), "glucose-faulty": "glucose.toml"},
    )
    readings, gateway = await run_until_settled(mosquitto, config, tmp_path, 8)
    log = gateway.text()
    # The faults happened: two refused connections for the monitor, one for the meter, and
    # the meter's link dropped mid-transfer in exactly its first two sessions. (The monitor's
    # short first session is checked in-process: test_scenario_runner.py.)
    assert log.count("connection refused by the simulated device") == 3, log[-4000:]
    assert log.count("glucose-faulty: link lost during record transfer") == 2, log[-4000:]
    systolic = sorted(r.values.systolic_mmhg for r in readings
                      if isinstance(r.values, BloodPressure))
    assert systolic == [130.0, 131.0, 132.0]
    glucose = sorted(r.values.glucose_mgdl or 0 for r in readings
                     if isinstance(r.values, Glucose))
    assert glucose == [90.0, 100.0, 110.0, 120.0, 130.0]
    assert len({r.id for r in readings}) == 8
