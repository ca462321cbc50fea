"""Drive a LifeScan session through real pyserial against its pty simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.devices import DeviceConfig, DeviceContext
from drivers.serial import onetouch_easy as easy
from drivers.serial import onetouch_ultra2 as ultra2
from drivers.serial.runner import SerialRunner, make_runner
from simulators.serial.meter_clock import DriftingClock
from simulators.serial.onetouch_easy import UltraEasyMeter
from simulators.serial.onetouch_easy import sample_records as easy_records
from simulators.serial.onetouch_ultra2 import Ultra2Meter
from simulators.serial.onetouch_ultra2 import sample_records as ultra2_records
from simulators.serial.pty import PtyFaults, PtyMeter
from tests.serial_lifescan.conftest import make_ctx
from tests.support.clock import FakeClock
from tests.support.sink import MemorySink

PROTOCOLS = ("onetouch-ultra2", "onetouch-ultraeasy")


def build_meter(
    protocol: str,
    clock: FakeClock,
    *,
    records: int,
    drift_s: float = 0.0,
    faults: PtyFaults | None = None,
    **kwargs: Any,
) -> Ultra2Meter | UltraEasyMeter:
    meter_clock = DriftingClock(clock, drift_s=drift_s)
    newest = meter_clock.local_now() - timedelta(minutes=30)
    if protocol == "onetouch-ultra2":
        return Ultra2Meter(records=ultra2_records(records, newest), clock=meter_clock,
                           faults=faults, **kwargs)
    return UltraEasyMeter(records=easy_records(records, newest), clock=meter_clock,
                          faults=faults, **kwargs)


def new_record(meter: PtyMeter, local: datetime, value: int) -> None:
    """A resident just tested on the meter."""
    if isinstance(meter, Ultra2Meter):
        meter.add_record(ultra2.Record(local, ultra2.WEEKDAYS[local.weekday()], value))
    elif isinstance(meter, UltraEasyMeter):
        meter.add_record(easy.Record(local, value))
    else:
        raise TypeError(meter)


def memory_size(meter: PtyMeter) -> int:
    if isinstance(meter, Ultra2Meter | UltraEasyMeter):
        return len(meter.memory)
    raise TypeError(meter)


@dataclass
class Harness:
    protocol: str
    clock: FakeClock
    sink: MemorySink
    options: dict[str, Any] = field(default_factory=dict)
    name: str = "gm-kiosk-1"

    def config(self, port: str) -> DeviceConfig:
        options = {"timeout_s": 0.3, "retries": 3, **self.options}
        return DeviceConfig(name=self.name, transport="serial", protocol=self.protocol,
                            port=port, options=options)

    def runner(self, port: str) -> tuple[SerialRunner, DeviceContext]:
        config = self.config(port)
        return make_runner(config), make_ctx(config, self.sink, self.clock)

    async def run(self, meter: PtyMeter) -> DeviceContext:
        runner, ctx = self.runner(meter.path)
        await runner.run_once(ctx)
        return ctx
