"""Test support shared by the Contour, TaiDoc and Beurer session tests.

`run_session` opens a real pyserial link on a running pty simulator and runs one session
against it, committing into `tests.support.sink.MemorySink`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from core.devices import DeviceConfig, DeviceContext, DeviceStatus
from core.events import EventBus
from drivers.serial import registry
from drivers.serial.link import open_link
from drivers.serial.session_base import SessionSettings
from simulators.serial.pty import PtyMeter
from tests.support.sink import MemorySink

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)  # 14:00 in Balikpapan (WITA, UTC+8)


def make_context(sink: MemorySink, protocol: str, now: datetime = NOW) -> DeviceContext:
    return DeviceContext(
        config=DeviceConfig(name="meter-1", transport="serial", protocol=protocol),
        sink=sink,
        status=DeviceStatus(name="meter-1", transport="serial"),
        events=EventBus(),
        gateway_id="gw-test",
        site_id="site-bpn",
        clock=lambda: now,
    )


async def run_session(
    meter: PtyMeter,
    protocol: str,
    sink: MemorySink,
    *,
    now: datetime = NOW,
    set_clock: bool = False,
    timeout_s: float = 0.4,
    retries: int = 3,
) -> DeviceContext:
    """One session of `protocol` against the (running) simulator; returns its context."""
    spec = registry.get(protocol)
    settings = SessionSettings(
        protocol=spec.name,
        port=meter.path,
        set_clock=set_clock,
        timeout_s=timeout_s,
        retries=retries,
    )
    ctx = make_context(sink, spec.name, now)
    session = spec.load_session()(settings)
    link = await open_link(meter.path, spec.line, name="meter-1")
    try:
        await session.run(link, ctx)
    finally:
        link.close()
    return ctx
