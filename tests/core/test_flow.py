"""The core flow through real parts: device -> outbox -> mosquitto -> central -> receipt."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.cli.compose import build_gateway
from tests.support.harness import gateway_config, running_central, wait_for
from tests.support.mosquitto import Mosquitto


async def test_synthetic_readings_reach_central_and_are_confirmed(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str
) -> None:
    config = gateway_config(
        tmp_path / "gw",
        mosquitto.url,
        devices=[
            {
                "name": "bp-1",
                "transport": "simulated",
                "kind": "blood_pressure",
                "options": {"rate_per_s": 200, "count": 50},
            },
            {
                "name": "glu-1",
                "transport": "simulated",
                "kind": "glucose",
                "options": {"rate_per_s": 200, "count": 30, "batch": 3},
            },
        ],
    )
    async with running_central(mosquitto.url, central_db_url) as central:
        gateway = build_gateway(config, maintenance_interval_s=0.5, status_file_interval_s=0.2)
        task = asyncio.create_task(gateway.run())
        try:
            await wait_for(lambda: gateway.ready.is_set() or task.done(), 10, "gateway ready")

            async def all_confirmed() -> bool:
                if task.done():
                    task.result()
                counts = await gateway.outbox.counts()
                return counts.confirmed == 80

            await wait_for(all_confirmed, 20, "80 confirmed readings")
            assert central.store.count() == 80
            assert central.stats.dead_letters == 0
            status = gateway.devices["bp-1"]
            assert status.readings_total == 50
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
