"""central/background.py: the pages' refreshes run beside them, so a view finds little to do."""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa

from central.background import keep_fresh
from central.store import CentralStore
from central.web.settings import WebSettings
from gateway.cli.central.run import _page_jobs
from tests.central.cascade_seed import SEEDS, WILAYAH, seed
from tests.support.harness import wait_for


def count(store: CentralStore, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


async def test_the_pages_refreshes_fill_their_tables_in_the_background(central_db_url: str) -> None:
    await asyncio.to_thread(seed, central_db_url)
    store = await asyncio.to_thread(CentralStore, central_db_url)
    jobs = _page_jobs(store, WebSettings(wilayah=WILAYAH))
    assert [name for name, _job in jobs] == ["cascade facts", "referrals", "quality days"]
    task = asyncio.create_task(keep_fresh(jobs, every_s=0.05), name="pages-fresh")

    async def filled() -> bool:
        facts = await asyncio.to_thread(count, store, "cascade_facts")
        referrals = await asyncio.to_thread(count, store, "referrals")
        return facts == len(SEEDS) and referrals > 0

    try:
        await wait_for(filled, 30, "the cascade's facts and the referrals filed")
        assert not task.done()
        # What is left for a page view: nothing.
        for _name, job in jobs[:2]:
            assert await asyncio.to_thread(job) == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(store.close)


async def test_a_database_error_waits_for_the_next_turn() -> None:
    calls: list[float] = []

    def broken() -> int:
        calls.append(time.monotonic())
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("database is locked"))

    task = asyncio.create_task(keep_fresh([("broken", broken)], every_s=0.01), name="t")
    try:
        await wait_for(lambda: len(calls) >= 3, 10, "tried again after the error")
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
