"""Test support shared by the Contour, TaiDoc and Beurer session tests.

`MemorySink` is an in-memory `ReadingSink` (the real outbox is tested elsewhere): it stores
readings by id, counts duplicates, keeps cursors, and can fail a chosen commit. `run_session`
opens a real pyserial link on a running pty simulator and runs one session against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.devices import DeviceConfig, DeviceContext, DeviceStatus
from core.events import EventBus
from core.reading import Reading
from core.sink import CommitResult, Cursor
from drivers.errors import DeviceSessionError
from drivers.serial import registry
from drivers.serial.link import open_link
from drivers.serial.session_base import SessionSettings
from simulators.serial.pty import PtyMeter

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)  # 14:00 in Balikpapan (WITA, UTC+8)


class SinkFailure(DeviceSessionError):
    """The sink refused a commit (simulated disk trouble)."""


@dataclass
class MemorySink:
    readings: dict[str, Reading] = field(default_factory=dict)
    cursors: dict[tuple[str, str], str] = field(default_factory=dict)
    commits: list[tuple[tuple[str, ...], Cursor | None]] = field(default_factory=list)
    fail_commit: int | None = None  # index of the commit call that raises

    async def commit(
        self, readings: Sequence[Reading], *, cursor: Cursor | None = None
    ) -> CommitResult:
        call = len(self.commits)
        self.commits.append((tuple(r.id for r in readings), cursor))
        if call == self.fail_commit:
            raise SinkFailure("simulated commit failure")
        stored = duplicates = 0
        for reading in readings:
            if reading.id in self.readings:
                duplicates += 1
            else:
                self.readings[reading.id] = reading
                stored += 1
        if cursor is not None:
            self.cursors[(cursor.device_id, cursor.name)] = cursor.value
        return CommitResult(stored=stored, duplicates=duplicates)

    async def get_cursor(self, device_id: str, name: str = "records") -> str | None:
        return self.cursors.get((device_id, name))


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
