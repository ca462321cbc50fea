"""Stopping the gateway works even when something under it swallows a cancellation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from core.devices import DeviceConfig, DeviceContext, DeviceRunner, DeviceStatus
from core.events import EventBus
from core.tasks import cancel_and_wait
from gateway.supervisor import DeviceSupervisor
from tests.support.sink import MemorySink


class SwallowingRunner:
    """A driver with the classic bug: it catches CancelledError and returns normally."""

    def __init__(self) -> None:
        self.sessions = 0
        self.started = asyncio.Event()

    async def run_once(self, ctx: DeviceContext) -> None:
        self.sessions += 1
        self.started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if self.sessions == 1:
                return  # swallowed once; later sessions behave, so a failing test can end
            raise


async def test_supervisor_stops_when_its_driver_swallows_the_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = SwallowingRunner()

    def factory(_config: DeviceConfig) -> DeviceRunner:
        return runner

    config = DeviceConfig(name="leaky", transport="simulated")
    supervisor = DeviceSupervisor(
        config,
        MemorySink(),
        DeviceStatus(name="leaky", transport="simulated"),
        EventBus(),
        gateway_id="gw-test",
        site_id=None,
        clock=lambda: datetime.now(UTC),
        factories={"simulated": factory},
        idle_s=0.0,  # without the check it would reconnect at once, for ever
    )
    task = asyncio.create_task(supervisor.run(), name="device:leaky")
    await runner.started.wait()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    if not done:
        await cancel_and_wait(task)  # the second session stops on a second cancel
    assert task in done and task.cancelled()
    assert runner.sessions == 1
    assert "swallowed the stop request" in caplog.text


async def test_cancel_and_wait_keeps_the_callers_own_cancellation() -> None:
    async def helper() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.05)  # slow to stop: the caller is cancelled meanwhile

    async def caller(inner: asyncio.Task[None]) -> str:
        await cancel_and_wait(inner)
        return "ran on"  # reached only if the caller's cancellation was eaten

    inner = asyncio.create_task(helper(), name="helper")
    await asyncio.sleep(0)
    outer = asyncio.create_task(caller(inner), name="caller")
    await asyncio.sleep(0.01)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert inner.done()


async def test_cancel_and_wait_absorbs_the_tasks_own_cancellation() -> None:
    inner = asyncio.create_task(asyncio.sleep(3600), name="sleeper")
    await asyncio.sleep(0)
    await cancel_and_wait(inner)
    assert inner.cancelled()
