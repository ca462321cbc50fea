"""Stopping owned asyncio tasks without eating the caller's own cancellation."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has finished.

    The usual `suppress(CancelledError)` around the await also swallows a cancellation aimed
    at the caller while it waits, and the caller then runs on as if never told to stop (this
    kept a test gateway reconnecting after shutdown). Here the task's own CancelledError is
    absorbed and the caller's is raised again.
    """
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
