"""Scenario devices in-process: `make_runner` for `transport = "simulated"` with a scenario
drives the real BLE runner over the simulated radio, committing into a real SQLite outbox.

Covers what the process-level tests do not pin exactly: a BP monitor dropping the link
mid-memory in its first session only, `[generate]` on an injected clock, drift_ppm, and each
quirk family being recognised by the gateway the way the real meter is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.devices import DeviceConfig, DeviceContext, DeviceStatus
from core.events import EventBus
from core.reading import BloodPressure, Glucose, Reading, TimeQuality
from core.sink import CommitResult, Cursor
from gateway.cli.compose import simulated_runner as make_runner
from gateway.outbox import Outbox
from simulators.ble.scenario import ScenarioRunner
from tests.e2e.conftest import NOW, wita_to_utc
from tests.support.clock import FakeClock


class RecordingSink:
    """The real outbox, remembering what each session handed it."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.commits: list[list[Reading]] = []
        self.stored: dict[str, Reading] = {}

    async def commit(
        self, readings: Sequence[Reading], *, cursor: Cursor | None = None
    ) -> CommitResult:
        self.commits.append(list(readings))
        result = await self.outbox.commit(readings, cursor=cursor)
        for reading in readings:
            self.stored.setdefault(reading.id, reading)
        return result

    async def get_cursor(self, device_id: str, name: str = "records") -> str | None:
        return await self.outbox.get_cursor(device_id, name)


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[RecordingSink]:
    outbox = Outbox(tmp_path / "outbox.db")
    await outbox.open()
    try:
        yield RecordingSink(outbox)
    finally:
        await outbox.close()


def runner_for(tmp_path: Path, text: str, **options: object) -> tuple[DeviceConfig, ScenarioRunner]:
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    config = DeviceConfig(
        name="sim", transport="simulated",
        options={"scenario": str(path), "site_tz": "Asia/Makassar", **options},
    )
    runner = make_runner(config)
    assert isinstance(runner, ScenarioRunner)
    return config, runner


def context(config: DeviceConfig, sink: RecordingSink, clock: FakeClock) -> DeviceContext:
    return DeviceContext(
        config=config, sink=sink, status=DeviceStatus(name=config.name, transport="simulated"),
        events=EventBus(), gateway_id="gw-test", site_id=None, clock=clock,
    )


async def test_bp_link_drop_in_first_session_then_whole_memory_once(
    tmp_path: Path, sink: RecordingSink
) -> None:
    config, runner = runner_for(tmp_path, """
profile = "blood_pressure"
[faults]
disconnect_after_records = 1
refuse_connect_times = 1
[[records]]
systolic = 140
diastolic = 90
pulse = 70
ago_min = 90
[[records]]
systolic = 130
diastolic = 85
ago_min = 60
flags = ["irregular_pulse", "body_movement"]
[[records]]
systolic = 120
diastolic = 80
ago_min = 30
""")
    clock = FakeClock(NOW)
    ctx = context(config, sink, clock)
    await runner.run_once(ctx)  # the refused attempt is retried inside the session
    assert [r.values.systolic_mmhg for r in sink.commits[0]
            if isinstance(r.values, BloodPressure)] == [140.0]
    await runner.run_once(ctx)
    await runner.run_once(ctx)
    assert len(sink.commits) == 3 and len(sink.commits[1]) == 3  # no fault after session 1
    counts = await sink.outbox.counts()
    assert counts.unconfirmed == 3  # three results stored once each
    flagged = next(r for r in sink.stored.values()
                   if isinstance(r.values, BloodPressure) and r.values.systolic_mmhg == 130.0)
    assert isinstance(flagged.values, BloodPressure)
    assert flagged.values.status == frozenset({"irregular_pulse", "body_movement"})
    assert flagged.values.pulse_bpm is None


async def test_generate_adds_measurements_on_the_device_clock(
    tmp_path: Path, sink: RecordingSink
) -> None:
    config, runner = runner_for(tmp_path, """
profile = "glucose"
[clock]
offset_s = 600
drift_ppm = 1000      # 1 ms per second: 3.6 s an hour
[generate]
every_s = 20
""")
    clock = FakeClock(NOW)
    ctx = context(config, sink, clock)
    await runner.run_once(ctx)
    assert not sink.stored
    clock.advance(3600)  # an hour: 180 measurements, the device clock 3.6 s further ahead
    await runner.run_once(ctx)
    readings = sorted(sink.stored.values(), key=lambda r: int(r.record_key or 0))
    assert len(readings) == 180
    assert all(isinstance(r.values, Glucose) and r.values.glucose_mgdl for r in readings)
    assert all(r.clock_offset_s is not None for r in readings)
    offset = readings[-1].clock_offset_s or 0.0
    assert abs(offset - 603.6) <= 1  # measured over CTS: 600 s + 3.6 s of drift
    assert readings[-1].time_quality is TimeQuality.DEVICE_CLOCK
    # The last one was measured at NOW + 3600 s (true time), recovered after correction.
    assert abs((readings[-1].measured_at - (NOW + timedelta(seconds=3600))).total_seconds()) <= 1


@pytest.mark.parametrize(
    ("profile", "quirk", "device_prefix"),
    [
        ("blood_pressure", "beurer_bm", "beurer:"),
        ("blood_pressure", "and_ua651", "a&d-medical:"),
        ("glucose", "isens_caresens", "i-sens:"),
        ("glucose", "taidoc_fora", "unknown:TD4277"),  # no DIS manufacturer; placeholder model
        ("glucose", "roche_accu_chek", "roche:"),
    ],
)
async def test_each_family_is_read_as_the_real_meter(
    tmp_path: Path, sink: RecordingSink, profile: str, quirk: str, device_prefix: str
) -> None:
    record = (
        "systolic = 133\ndiastolic = 88\npulse = 61\nat = 2026-11-27T12:00:00"
        if profile == "blood_pressure"
        else "glucose = 144\nat = 2026-11-27T12:00:00"
        + ("" if quirk == "taidoc_fora" else '\nmeal = "postprandial"')  # Fora: no context
    )
    config, runner = runner_for(tmp_path, f"""
profile = "{profile}"
quirk = "{quirk}"
[clock]
offset_s = -240
readable = {"true" if quirk != "beurer_bm" else "false"}
[[records]]
{record}
""")
    clock = FakeClock(NOW)
    await runner.run_once(context(config, sink, clock))
    (reading,) = sink.stored.values()
    assert reading.device.id.startswith(device_prefix), reading.device.id
    assert reading.device_time == "2026-11-27T12:00:00"
    taken = wita_to_utc(datetime(2026, 11, 27, 12, 0))  # WITA wall time
    if quirk == "beurer_bm":  # no clock to read: the device's time taken as it is
        assert reading.clock_offset_s is None and reading.measured_at == taken
    else:
        assert reading.clock_offset_s is not None and abs(reading.clock_offset_s + 240) <= 1
        assert abs((reading.measured_at - (taken + timedelta(seconds=240))).total_seconds()) <= 1
    if isinstance(reading.values, Glucose):
        assert reading.values.glucose_mgdl == 144.0
        assert reading.values.meal == (None if quirk == "taidoc_fora" else "postprandial")
    else:
        assert isinstance(reading.values, BloodPressure)
        assert (reading.values.systolic_mmhg, reading.values.pulse_bpm) == (133.0, 61.0)
    assert reading.measured_at.tzinfo is UTC or reading.measured_at.utcoffset() == timedelta(0)
