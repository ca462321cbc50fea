"""Central stores while a flood is still arriving (issue 12: its row count stayed near 0 until
the publishers stopped, because the MQTT reader kept the event loop while bytes kept coming).

Real mosquitto, central in this event loop on each backend, two publishers in their own
processes that never stop by themselves: commits must be seen while both still publish, and
more than once (a single batch at the end would not be "steady").
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.harness import running_central, wait_for
from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.broker]
ROOT = Path(__file__).resolve().parents[2]


async def test_commits_flow_while_the_flood_arrives(
    mosquitto: Mosquitto, central_db_url: str
) -> None:
    async with running_central(mosquitto.url, central_db_url) as central:
        publishers = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.central.flood_publisher", mosquitto.url, gw, first],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for gw, first in (("gw-flood-1", "0"), ("gw-flood-2", "100000000"))
        ]
        try:
            for proc in publishers:
                assert proc.stdout is not None
                line = await asyncio.to_thread(proc.stdout.readline)
                assert line.strip() == "started"
            counts: list[int] = []

            async def grew_twice() -> bool:
                stored = await asyncio.to_thread(central.store.count)
                if not counts or stored > counts[-1]:
                    counts.append(stored)
                return len(counts) >= 3

            await wait_for(grew_twice, 60, "commits while the flood arrives")
            # Both publishers are still publishing (they stop only when told): the rows above
            # were committed under the flood, not after it.
            assert all(proc.poll() is None for proc in publishers)
            assert central.stats.receipts_sent > 0
        finally:
            sent = []
            for proc in publishers:
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.close()
                sent.append(int((await asyncio.to_thread(proc.stdout.readline)) or 0))
                proc.wait(20)
                proc.stdout.close()
        total = sum(sent)
        assert total > counts[-1]  # still flooding when the commits were seen
        await wait_for(lambda: central.stats.stored == total, 60, "the rest of the flood stored")
        assert await asyncio.to_thread(central.store.count) == total
