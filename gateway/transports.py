"""Which driver serves which device transport, imported on first use only.

`gempita run` must not import bleak or pyserial unless a configured device needs them, so the
table names modules instead of importing them. Transports that are not production drivers
(the simulators' "simulated" devices) are added by the composition root, never here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from core.devices import RunnerFactory

# transport -> "module:function"
DRIVER_FACTORIES: dict[str, str] = {
    "ble": "drivers.ble.runner:make_runner",
    "serial": "drivers.serial.runner:make_runner",
}


def runner_factory(
    transport: str, extra: Mapping[str, RunnerFactory] | None = None
) -> RunnerFactory:
    """The factory for `transport`: one of `extra` first, then the production drivers."""
    if extra and transport in extra:
        return extra[transport]
    try:
        target = DRIVER_FACTORIES[transport]
    except KeyError:
        known = sorted({*DRIVER_FACTORIES, *(extra or {})})
        raise ValueError(
            f"unknown device transport {transport!r}; this gateway knows {', '.join(known)}"
        ) from None
    module_name, _, attr = target.partition(":")
    factory: RunnerFactory = getattr(importlib.import_module(module_name), attr)
    return factory
