from __future__ import annotations

import asyncio
import errno
from typing import Any

import pytest
import serial

from drivers.errors import DeviceSessionError, UsageError
from drivers.serial.errors import LinkLostError, LinkTimeoutError, PortMissingError
from drivers.serial.link import LineSettings, SerialLink, open_link
from simulators.serial.pty import PtyFaults
from tests.serial_link.echo_meter import EchoMeter

SETTINGS = LineSettings(9600)


@pytest.fixture
async def meter() -> Any:
    meter = EchoMeter()
    await meter.start()
    yield meter
    await meter.stop()


async def test_read_until_and_read_over_a_real_pty(meter: EchoMeter) -> None:
    link = await open_link(meter.path, SETTINGS)
    try:
        await link.write(b"abc\rdef")
        assert await link.read_until(b"\r", 1.0) == b"ABC\r"
        assert await link.read(3, 1.0) == b"DEF"
        assert link.buffered() == b""
    finally:
        link.close()


async def test_timeout_keeps_partial_bytes_and_is_a_session_error(meter: EchoMeter) -> None:
    link = await open_link(meter.path, SETTINGS)
    try:
        await link.write(b"xy")
        with pytest.raises(LinkTimeoutError) as caught:
            await link.read(5, 0.2)
        assert isinstance(caught.value, DeviceSessionError)
        assert "2 bytes pending" in str(caught.value)
        assert await link.read(2, 0.1) == b"XY"
    finally:
        link.close()


async def test_peek_does_not_consume(meter: EchoMeter) -> None:
    link = await open_link(meter.path, SETTINGS)
    try:
        await link.write(b"hello")
        assert await link.peek(5, 1.0) == b"HELLO"
        assert await link.read(5, 0.1) == b"HELLO"
    finally:
        link.close()


async def test_unplug_mid_read_raises_link_lost(meter: EchoMeter) -> None:
    link = await open_link(meter.path, SETTINGS)
    try:
        reader = asyncio.create_task(link.read(10, 5.0), name="test-reader")
        await asyncio.sleep(0.05)
        meter.unplug()
        with pytest.raises(LinkLostError):
            await reader
        assert link.lost
        with pytest.raises(LinkLostError):
            await link.write(b"x")
    finally:
        link.close()


async def test_unplug_after_bytes_cuts_the_reply(meter: EchoMeter) -> None:
    meter.faults = PtyFaults(unplug_after_bytes=4)
    link = await open_link(meter.path, SETTINGS)
    try:
        await link.write(b"abcdefgh")
        with pytest.raises(LinkLostError):
            await link.read(8, 2.0)
        assert link.buffered() == b"ABCD"  # what arrived before the cable went stays readable
        assert await link.read(4, 0.1) == b"ABCD"
    finally:
        link.close()


async def test_in_waiting_eio_is_link_lost() -> None:
    class EioPort:
        timeout: float | None = None
        write_timeout: float | None = None

        def fileno(self) -> int:
            raise AttributeError  # force the polling path

        @property
        def in_waiting(self) -> int:
            raise OSError(errno.EIO, "Input/output error")

        def read(self, n: int) -> bytes:
            return b""

        def close(self) -> None:
            pass

    link = SerialLink(EioPort(), name="eio")
    with pytest.raises(LinkLostError, match="Input/output error"):
        await link.read(1, 1.0)
    link.close()


async def test_loop_url_works_without_a_file_descriptor() -> None:
    link = await open_link("loop://", SETTINGS)
    try:
        await link.write(b"ping\n")
        assert await link.read_until(b"\n", 1.0) == b"ping\n"
    finally:
        link.close()


async def test_missing_port_is_reported_at_once(tmp_path: Any) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(PortMissingError) as caught:
        await open_link(str(tmp_path / "ttyUSB-gone"), SETTINGS)
    assert loop.time() - start < 1.0
    assert isinstance(caught.value, DeviceSessionError)


async def test_unopenable_port_is_link_lost() -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise serial.SerialException("[Errno 16] Device or resource busy")

    with pytest.raises(LinkLostError, match="busy"):
        await open_link("/dev/ttyUSB0", SETTINGS, opener=refuse)


async def test_drain_drops_until_quiet(meter: EchoMeter) -> None:
    link = await open_link(meter.path, SETTINGS)
    try:
        await link.write(b"garbage")
        await asyncio.sleep(0.05)
        dropped = await link.drain(0.05, 1.0)
        assert dropped == b"GARBAGE"
        await link.write(b"ok\n")
        assert await link.read_until(b"\n", 1.0) == b"OK\n"
    finally:
        link.close()


async def test_concurrent_reads_are_a_usage_error(meter: EchoMeter) -> None:
    link = await open_link(meter.path, SETTINGS)
    try:
        first = asyncio.create_task(link.read(1, 1.0), name="test-first")
        await asyncio.sleep(0)
        with pytest.raises(UsageError):
            await link.read(1, 1.0)
        await link.write(b"z")
        assert await first == b"Z"
    finally:
        link.close()


async def test_large_write_is_not_lost(meter: EchoMeter) -> None:
    link = await open_link(meter.path, SETTINGS)
    payload = bytes(range(97, 123)) * 400  # 10 400 bytes: more than one pty buffer pass
    try:
        await link.write(payload)
        assert await link.read(len(payload), 5.0) == payload.upper()
    finally:
        link.close()


async def test_closed_link_refuses_use(meter: EchoMeter) -> None:
    link = await open_link(meter.path, SETTINGS)
    link.close()
    link.close()  # idempotent
    with pytest.raises(UsageError):
        await link.write(b"x")


async def test_cancelled_read_releases_the_link(meter: EchoMeter) -> None:
    link = await open_link(meter.path, SETTINGS)
    try:
        reader = asyncio.create_task(link.read(1, 10.0), name="test-cancelled")
        await asyncio.sleep(0.01)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        await link.write(b"q")
        assert await link.read(1, 1.0) == b"Q"
    finally:
        link.close()


async def test_waiting_read_does_not_block_the_event_loop(meter: EchoMeter) -> None:
    link = await open_link(meter.path, SETTINGS)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    tick_task = asyncio.create_task(ticker(), name="test-ticker")
    try:
        with pytest.raises(LinkTimeoutError):
            await link.read(1, 0.3)
        assert ticks >= 15  # ~30 expected; a blocking read would allow ~1
    finally:
        tick_task.cancel()
        link.close()
