from __future__ import annotations

import asyncio
import os

import pytest

from drivers.serial.errors import LinkLostError, LinkTimeoutError
from drivers.serial.link import LineSettings, open_link
from simulators.serial.pty import PtyFaults
from tests.serial_link.echo_meter import EchoMeter

SETTINGS = LineSettings(9600)


async def _exchange(meter: EchoMeter, data: bytes, expect: int, wait: float = 1.0) -> bytes:
    link = await open_link(meter.path, SETTINGS)
    try:
        await link.write(data)
        return await link.read(expect, wait)
    finally:
        link.close()


async def test_noise_before_selected_replies() -> None:
    async with EchoMeter(faults=PtyFaults(noise_before=frozenset({1}), noise=b"\x00\xff")) as m:
        link = await open_link(m.path, SETTINGS)
        try:
            await link.write(b"a")
            assert await link.read(1, 1.0) == b"A"
            await link.write(b"b")
            assert await link.read(3, 1.0) == b"\x00\xffB"
        finally:
            link.close()


async def test_corrupt_reply_default_flips_last_byte() -> None:
    async with EchoMeter(faults=PtyFaults(corrupt_replies=frozenset({0}))) as meter:
        assert await _exchange(meter, b"ab", 2) == b"A" + bytes([ord("B") ^ 1])


async def test_dropped_reply_is_silence() -> None:
    async with EchoMeter(faults=PtyFaults(drop_replies=frozenset({0}))) as meter:
        with pytest.raises(LinkTimeoutError):
            await _exchange(meter, b"a", 1, wait=0.2)
        assert meter.stats.replies == 1
        assert meter.stats.bytes_sent == 0


async def test_slow_reply_arrives_late() -> None:
    faults = PtyFaults(slow_replies=frozenset({0}), slow_delay_s=0.3)
    async with EchoMeter(faults=faults) as meter:
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert await _exchange(meter, b"a", 1) == b"A"
        assert loop.time() - start >= 0.25


async def test_unplug_removes_the_path_and_restart_gives_a_new_one() -> None:
    meter = EchoMeter()
    await meter.start()
    first = meter.path
    link = await open_link(first, SETTINGS)
    meter.unplug()
    with pytest.raises(LinkLostError):
        await link.read(1, 1.0)
    link.close()
    assert meter.stats.unplugged
    assert not meter.running
    await meter.stop()
    await meter.start()
    try:
        assert os.path.exists(meter.path)
        assert await _exchange(meter, b"z", 1) == b"Z"
    finally:
        await meter.stop()


async def test_received_bytes_are_recorded() -> None:
    async with EchoMeter() as meter:
        await _exchange(meter, b"\x11\rDM?\r", 6)
        assert bytes(meter.stats.received) == b"\x11\rDM?\r"
