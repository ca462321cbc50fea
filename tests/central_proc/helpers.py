"""Real `gempita central` processes against gateways whose outboxes were filled beforehand.

The gateways are in-test `Gateway`s (the service `gempita outbox drain` runs) rather than
`gempita run` children: a pre-filled outbox fixes exactly which ids must arrive, and the test
reads each gateway's own confirmed count without a second process opening its outbox. Central,
the part these tests are about, is the real process, killed with SIGKILL where the scenario
says so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from central.store import CentralStore
from gateway.outbox import Outbox
from gateway.service import Gateway
from tests.core.test_delivery import all_confirmed, running_gateway
from tests.support.harness import gateway_config, make_reading, wait_for
from tests.support.processes import GempitaProcess, central_process

GATEWAYS = 2
PER_GATEWAY = 2000
TOTAL = GATEWAYS * PER_GATEWAY
# Long enough that no reading is ever re-sent on the timer within a test: a confirmation can
# only come from a receipt.
RESEND_AFTER_S = 3600.0
# Everything must be confirmed this long after the fault ends, far below the resend timer.
CONFIRM_BOUND_S = 45.0


@dataclass
class Fleet:
    gateways: list[Gateway]
    ids: set[str]

    async def confirmed(self) -> int:
        total = 0
        for gateway in self.gateways:
            total += (await gateway.outbox.counts()).confirmed
        return total

    async def all_confirmed(self) -> bool:
        for gateway in self.gateways:
            if not await all_confirmed(gateway, PER_GATEWAY):
                return False
        return True

    def receipted(self) -> int:
        return sum(g.publisher.state.confirmed_total for g in self.gateways)

    def published(self) -> int:
        return sum(g.publisher.state.published_total for g in self.gateways)


@asynccontextmanager
async def running_fleet(
    tmp_path: Path, broker_url: str, *, receipt_timeout_s: float = RESEND_AFTER_S
) -> AsyncIterator[Fleet]:
    """GATEWAYS gateways, each with PER_GATEWAY readings committed before it connects."""
    ids: set[str] = set()
    configs = []
    for k in range(GATEWAYS):
        gateway_id = f"gw-{k + 1:03d}"
        config = gateway_config(
            tmp_path / gateway_id,
            broker_url,
            gateway={"id": gateway_id},
            mqtt={"window": 200, "receipt_timeout_s": receipt_timeout_s},
            outbox={"resend_after_s": RESEND_AFTER_S},
        )
        # Disjoint record keys: the reading id is derived from the device and its record key.
        readings = [
            make_reading(n, gateway_id=gateway_id)
            for n in range(k * PER_GATEWAY, (k + 1) * PER_GATEWAY)
        ]
        async with Outbox(config.outbox_path) as outbox:
            for i in range(0, len(readings), 500):
                await outbox.commit(readings[i : i + 500])
        ids |= {r.id for r in readings}
        configs.append(config)
    async with AsyncExitStack() as stack:
        gateways = [await stack.enter_async_context(running_gateway(c)) for c in configs]
        yield Fleet(gateways, ids)


async def start_central(
    broker_url: str, db_url: str, log: Path, client_id: str = "central-1", *, printing: bool = False
) -> GempitaProcess:
    """A real `gempita central`, returned once it has subscribed."""
    proc = central_process(broker_url, db_url, log, client_id)
    if printing:
        # One "central stored" line per reading this instance stored first: the split.
        proc.args.append("--print")
    proc.start()
    await asyncio.to_thread(proc.wait_for_log, "central subscribed to", 30.0)
    return proc


def stored_ids(db_url: str) -> tuple[int, set[str]]:
    """(row count, ids) in central's database. Blocking: call it in a thread."""
    store = CentralStore(db_url)
    try:
        return store.count(), store.ids()
    finally:
        store.close()


async def wait_stored(db_url: str, at_least: int, timeout: float = 30.0) -> None:
    async def enough() -> bool:
        count, _ = await asyncio.to_thread(stored_ids, db_url)
        return count >= at_least

    await wait_for(enough, timeout, f"{at_least} readings stored at central")


async def until_under_way(fleet: Fleet, timeout: float = 30.0) -> None:
    """Return once a third of the stream has reached the broker, the rest not yet sent.

    Polled in memory every few milliseconds: the whole stream takes seconds, and central
    commits in large batches, so a coarser look (or one waiting for receipts) could find it
    finished.
    """
    deadline = time.monotonic() + timeout
    while fleet.published() < TOTAL // 3:
        if time.monotonic() > deadline:
            raise AssertionError(f"the stream did not get under way within {timeout} s")
        await asyncio.sleep(0.005)


async def until_central_stored_some(fleet: Fleet, timeout: float = 30.0) -> None:
    """Return at the first receipt: central has committed a batch, the rest is still coming."""
    deadline = time.monotonic() + timeout
    while fleet.receipted() == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"no receipt from central within {timeout} s")
        await asyncio.sleep(0.005)


async def settled_confirmed(fleet: Fleet, timeout: float = 20.0) -> int:
    """The confirmed count once it has stopped moving for a second (receipts in flight landed)."""
    deadline = time.monotonic() + timeout
    last = await fleet.confirmed()
    while True:
        await asyncio.sleep(1.0)
        now = await fleet.confirmed()
        if now == last:
            return now
        if time.monotonic() > deadline:
            raise AssertionError(f"confirmations still moving after {timeout} s")
        last = now


async def confirm_all_within(fleet: Fleet, bound_s: float) -> float:
    """Seconds until every gateway has every reading confirmed; fails beyond `bound_s`."""
    started = time.monotonic()
    await wait_for(fleet.all_confirmed, bound_s, "every reading confirmed at every gateway")
    return time.monotonic() - started


async def assert_exactly_once(db_url: str, fleet: Fleet) -> None:
    count, ids = await asyncio.to_thread(stored_ids, db_url)
    assert ids == fleet.ids, f"missing {len(fleet.ids - ids)}, unexpected {len(ids - fleet.ids)}"
    assert count == TOTAL
