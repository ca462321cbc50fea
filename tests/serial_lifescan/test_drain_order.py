"""Issue 10 item 18: a memory dump listed newest first is committed oldest first per device,
checked by the outbox's own seq order (real SQLite outbox, sessions over a pty)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core.devices import DeviceConfig, DeviceContext, DeviceStatus
from core.events import EventBus
from drivers.serial import onetouch_ultra2 as ultra2
from drivers.serial import registry
from drivers.serial.link import open_link
from drivers.serial.session_base import SessionSettings
from gateway.outbox import Outbox
from simulators.serial.contour import ContourMeter, sample_results
from simulators.serial.meter_clock import DriftingClock
from simulators.serial.onetouch_ultra2 import Ultra2Meter
from simulators.serial.pty import PtyMeter
from simulators.serial.taidoc import TaiDocMeter, sample_records
from tests.serial_contour.support import NOW

LOCAL_NOW = datetime(2026, 11, 27, 14, 0)  # NOW in Asia/Makassar


async def _session(meter: PtyMeter, protocol: str, outbox: Outbox, batch: int) -> None:
    spec = registry.get(protocol)
    settings = SessionSettings(protocol=spec.name, port=meter.path, timeout_s=0.4, batch=batch)
    ctx = DeviceContext(
        config=DeviceConfig(name="meter-1", transport="serial", protocol=spec.name),
        sink=outbox,
        status=DeviceStatus(name="meter-1", transport="serial"),
        events=EventBus(),
        gateway_id="gw-test",
        site_id="site-bpn",
        clock=lambda: NOW,
    )
    link = await open_link(meter.path, spec.line, name="meter-1")
    try:
        await spec.load_session()(settings).run(link, ctx)
    finally:
        link.close()


def _device_times_by_seq(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT payload FROM outbox ORDER BY seq").fetchall()
    return [json.loads(payload)["device_time"] for (payload,) in rows]


def _ultra2(times: list[datetime]) -> Ultra2Meter:
    records = [ultra2.Record(t, ultra2.WEEKDAYS[t.weekday()], 100 + i, comment=0)
               for i, t in enumerate(times)]
    return Ultra2Meter(records=records, clock=DriftingClock(lambda: NOW))


@pytest.mark.parametrize("batch", [3, 50])
async def test_ultra2_newest_first_dump_is_committed_oldest_first(
    tmp_path: Path, batch: int
) -> None:
    times = [LOCAL_NOW - timedelta(hours=h) for h in range(1, 8)]  # newest first
    meter = _ultra2(times)
    path = tmp_path / "outbox.db"
    async with meter, Outbox(path) as outbox:
        await _session(meter, "onetouch-ultra2", outbox, batch)
        assert await outbox.get_cursor("lifescan:ZW123456Y") is not None
        # A new test: the next session reads down to the cursor and commits only that one.
        meter.add_record(ultra2.Record(LOCAL_NOW - timedelta(minutes=5), "FRI", 99, comment=0))
        await _session(meter, "onetouch-ultra2", outbox, batch)
    got = _device_times_by_seq(path)
    expected = sorted(t.isoformat() for t in times)
    assert got == [*expected, (LOCAL_NOW - timedelta(minutes=5)).isoformat()]


async def test_taidoc_newest_first_memory_is_committed_oldest_first(tmp_path: Path) -> None:
    records = sample_records(6, newest=LOCAL_NOW - timedelta(minutes=3), blood_pressure=False)
    meter = TaiDocMeter(records, clock=lambda: NOW)
    path = tmp_path / "outbox.db"
    async with meter, Outbox(path) as outbox:
        await _session(meter, "taidoc", outbox, batch=2)
    got = _device_times_by_seq(path)
    assert got == sorted(r.taken_at.isoformat() for r in records)
    assert len(got) == len(records)


async def test_contour_transfer_is_committed_oldest_first(tmp_path: Path) -> None:
    results = sample_results(7, newest=LOCAL_NOW - timedelta(minutes=5))
    meter = ContourMeter(results, clock=lambda: NOW)
    path = tmp_path / "outbox.db"
    async with meter, Outbox(path) as outbox:
        await _session(meter, "contour", outbox, batch=3)
    assert _device_times_by_seq(path) == sorted(r.taken_at.isoformat() for r in results)
