"""The operator's device counter counts readings stored, not records a meter re-sent.

A standard BP monitor indicates its whole memory on every connection; the gateway stores each
record once. Run through the real Gateway, the real BLE runner and a simulated monitor.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from gateway.cli.compose import build_gateway
from simulators.ble.backend import Air
from simulators.ble.cli import demo_air, demo_device_configs
from tests.support.harness import gateway_config, wait_for


async def test_re_sent_memory_is_counted_apart_from_readings_stored(tmp_path: Path) -> None:
    air: Air = demo_air(devices=("bp",), bp_records=3)
    try:
        configs = [
            dataclasses.replace(c, options={**c.options, "poll_s": 0.05, "retry_initial_s": 0.05})
            for c in demo_device_configs(air)
        ]
        # No broker: readings stay pending, which is all this test needs.
        config = gateway_config(tmp_path / "gw", "mqtt://127.0.0.1:9")
        config = dataclasses.replace(config, devices=tuple(configs))
        gateway = build_gateway(config, maintenance_interval_s=60, status_file_interval_s=60)
        task = asyncio.create_task(gateway.run(), name="gateway")
        try:
            await wait_for(lambda: gateway.ready.is_set() or task.done(), 10, "gateway ready")
            status = gateway.devices[configs[0].name]
            # Three sessions at least: the memory (3 records) was sent three times or more.
            await wait_for(
                lambda: task.done() or status.records_resent >= 6, 30, "memory re-sent twice"
            )
            if task.done():
                task.result()
            counts = await gateway.outbox.counts()
            assert counts.pending == 3
            assert status.readings_stored == 3
            assert status.records_resent >= 6 and status.records_resent % 3 == 0
            assert gateway.status_snapshot()["devices"][0]["readings_stored"] == 3
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await air.aclose()


def test_gempita_status_shows_readings_stored_not_records_received() -> None:
    from gateway.cli.status import _device_detail

    row = {"name": "bp", "state": "connected", "readings_total": 447, "readings_stored": 3,
           "records_resent": 444, "last_error": None}
    assert _device_detail(row) == "3 readings stored, 444 re-sent from its memory (already stored)"
    assert _device_detail({**row, "records_resent": 0}) == "3 readings stored"
    assert _device_detail({**row, "last_error": "no BlueZ"}) == "no BlueZ"
