"""Protocol name -> pty simulator factory. Adding a simulator is one `register_simulator` line.

Names are the drivers' protocol names (aliases resolve through `drivers.serial.registry`), so
``gempita simulate serial --protocol X`` and ``protocol = "X"`` in the gateway config agree.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, cast

from drivers.errors import UsageError
from drivers.serial import registry as driver_registry
from simulators.serial.pty import PtyFaults, PtyMeter


class SimulatorFactory(Protocol):
    def __call__(
        self,
        *,
        records: int,
        faults: PtyFaults | None = None,
        clock: Callable[[], datetime] | None = None,
        drift_s: float = 0.0,
    ) -> PtyMeter: ...


_SIMULATORS: dict[str, str] = {}


def register_simulator(protocol: str, target: str) -> None:
    """`target` is ``"module:attribute"`` of a `SimulatorFactory`."""
    name = driver_registry.get(protocol).name
    if name in _SIMULATORS:
        raise UsageError(f"simulator for {name!r} registered twice")
    _SIMULATORS[name] = target


def simulator_names() -> list[str]:
    return sorted(_SIMULATORS)


def load_simulator(protocol: str) -> SimulatorFactory:
    name = driver_registry.get(protocol).name
    try:
        target = _SIMULATORS[name]
    except KeyError:
        raise UsageError(
            f"no serial simulator for {name!r}; available: {', '.join(simulator_names())}"
        ) from None
    module_name, _, attribute = target.partition(":")
    return cast(SimulatorFactory, getattr(importlib.import_module(module_name), attribute))


# -- one line per protocol ------------------------------------------------------------------
register_simulator("onetouch-ultra2", "simulators.serial.onetouch_ultra2:make_simulator")
register_simulator("onetouch-ultraeasy", "simulators.serial.onetouch_easy:make_simulator")
register_simulator("contour", "simulators.serial.contour:make_simulator")
register_simulator("taidoc", "simulators.serial.taidoc:make_simulator")
register_simulator("taidoc-bp", "simulators.serial.taidoc:make_bp_simulator")
register_simulator("beurer-bm58", "simulators.serial.beurer_bm58:make_simulator")
