"""Each of the Contour, TaiDoc and Beurer families through the gateway's serial runner."""

from __future__ import annotations

import pytest

from core.devices import DeviceConfig
from core.reading import Kind
from drivers.serial.runner import make_runner
from simulators.serial.registry import load_simulator
from tests.serial_contour.support import NOW, make_context
from tests.support.sink import MemorySink


@pytest.mark.parametrize(
    ("protocol", "kind"),
    [
        ("contour", Kind.GLUCOSE),
        ("taidoc", Kind.GLUCOSE),
        ("taidoc_bp", Kind.BLOOD_PRESSURE),
        ("bm58", Kind.BLOOD_PRESSURE),
    ],
)
async def test_runner_reads_simulator(protocol: str, kind: Kind) -> None:
    meter = load_simulator(protocol)(records=4, clock=lambda: NOW, drift_s=300.0)
    sink = MemorySink()
    async with meter:
        config = DeviceConfig(
            name="meter-1",
            transport="serial",
            port=meter.path,
            protocol=protocol,
            options={"timeout_s": 0.5, "retries": 2},
        )
        ctx = make_context(sink, protocol)
        await make_runner(config).run_once(ctx)
    assert len(sink.readings) == 4
    assert {r.kind for r in sink.readings.values()} == {kind}
    assert ctx.status.state == "idle"
    assert ctx.status.readings_total == 4
