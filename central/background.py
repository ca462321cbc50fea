"""What the pages would otherwise compute inside a request, done beside them.

The cascade files each new reading's facts, the worklist files each positive reading, the
quality page counts each finished day; each does it on demand, before answering, from a mark
of what it has seen. After an upgrade, or a kit's week of backlog arriving at once, that is a
city's history inside one page view (tens of seconds on 1,000,000 readings). `keep_fresh` runs
the same refreshes on a timer, so a page finds little left to do. Each refresh is safe to run
beside a page's own (they take turns or skip what is filed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import sqlalchemy as sa

_LOGGER = logging.getLogger(__name__)

# (what it fills, for the log; the refresh: returns how many rows it filed)
Job = tuple[str, Callable[[], int]]


async def keep_fresh(jobs: Sequence[Job], every_s: float = 300.0) -> None:
    """Run every job, then wait `every_s`, until cancelled. A database error skips that job
    until the next turn: the pages still refresh on demand, only slower."""
    while True:
        for name, refresh in jobs:
            try:
                filed = await asyncio.to_thread(refresh)
            except sa.exc.SQLAlchemyError as exc:
                _LOGGER.warning("background %s: not refreshed now: %s", name, type(exc).__name__)
            else:
                if filed:
                    _LOGGER.info("background %s: %d filed", name, filed)
        await asyncio.sleep(every_s)
