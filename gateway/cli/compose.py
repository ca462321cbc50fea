"""The composition root's one way to build a gateway: the service, plus what it hosts.

Only here (and in the CLI commands that call it) do the gateway, the kiosk and the simulators
meet: `Gateway` itself knows none of them. Optional parts are imported lazily, so a gateway
without a kiosk never imports FastAPI and one without simulated devices never imports the
simulators.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.clock import utc_now
from core.devices import DeviceCheck, DeviceConfig, DeviceRunner, RunnerFactory
from gateway.config import Config
from gateway.errors import GatewayError

if TYPE_CHECKING:  # imported when a gateway is built: `gempita --help` stays instant
    from gateway.service import Gateway, HostedTask


def simulated_runner(config: DeviceConfig) -> DeviceRunner:
    """The "simulated" transport: software devices for demos, rehearsals and load tests.

    With `options.scenario` a simulated BLE meter read by the real BLE runner (it brings bleak,
    so it is imported only then); without, a synthetic device.
    """
    if "scenario" in config.options:
        from simulators.ble.scenario import make_scenario_runner

        return make_scenario_runner(config)
    from simulators.synthetic import make_runner

    return make_runner(config)


def simulated_check(config: DeviceConfig, base_dir: Path) -> DeviceConfig:
    """A simulated device's scenario file, read and checked when the config is loaded."""
    if "scenario" not in config.options:
        return config
    from simulators.ble.scenario import prepare_scenario_config

    return prepare_scenario_config(config, base_dir)


# Transports the composition root adds to the gateway's production drivers, and the checks of
# their options that the config loader runs (core.devices.DeviceCheck).
EXTRA_TRANSPORTS: Mapping[str, RunnerFactory] = {"simulated": simulated_runner}
DEVICE_CHECKS: Mapping[str, DeviceCheck] = {"simulated": simulated_check}


def load_config(path: str | Path) -> Config:
    """The config file, with every device checked by its transport (scenario files too)."""
    from gateway.config import load_config as load

    return load(path, device_checks=DEVICE_CHECKS)


def build_gateway(
    config: Config,
    *,
    measurement_hook: Callable[[str], None] | None = None,
    factories: Mapping[str, RunnerFactory] | None = None,
    hosted: Mapping[str, HostedTask] | None = None,
    wall_clock: Callable[[], datetime] = utc_now,
    **options: Any,
) -> Gateway:
    """A gateway for `config`, hosting the kiosk when `[kiosk] enabled` and the Prometheus
    endpoint when `[metrics] listen` is set.

    `measurement_hook` is called when a resident starts measuring (the demo's simulated
    resident); `options` go to `Gateway` as they are (notifier, maintenance and status
    intervals).
    """
    from gateway.service import Gateway

    binder = options.pop("binder", None)
    hosting = dict(hosted or {})
    if config.kiosk.enabled:
        from gateway.kiosk_host import kiosk_host  # lazily: FastAPI is heavy

        host = kiosk_host(config, wall_clock)
        config, binder = host.config, binder or host.binder
        hosting["kiosk"] = host.serve
    address = config.metrics.address
    if address is not None and "metrics" not in hosting:
        from gateway.metrics import metrics_host  # lazily: only when asked for

        hosting["metrics"] = metrics_host(*address)
    return Gateway(
        config,
        binder=binder,
        factories={**EXTRA_TRANSPORTS, **(factories or {})},
        hosted=hosting,
        wall_clock=wall_clock,
        measurement_hook=measurement_hook,
        **options,
    )


@contextlib.asynccontextmanager
async def running_gateway(config: Config, **options: Any) -> AsyncIterator[Gateway]:
    """A gateway running in a task of its own, ready when entered, stopped when left.

    For commands that need the service only for a moment (`gempita outbox drain`, `gempita
    devices replay`). If the gateway fails meanwhile, the caller's block is cancelled and the
    gateway's error is raised in its place, as a TaskGroup would, but without the group.
    """
    gateway = build_gateway(config, **options)
    caller = asyncio.current_task()
    task = asyncio.create_task(gateway.run(), name="gateway")

    def stopped(done: asyncio.Task[None]) -> None:
        if caller is not None and not done.cancelled() and done.exception() is not None:
            caller.cancel()

    task.add_done_callback(stopped)
    try:
        ready = asyncio.create_task(gateway.ready.wait(), name="gateway-ready")
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if task.done():
            task.result()  # raises why it could not start
            raise GatewayError("the gateway stopped before it was ready")
        yield gateway
    except asyncio.CancelledError:
        error = None if not task.done() or task.cancelled() else task.exception()
        if error is not None and caller is not None:
            caller.uncancel()  # the cancel was ours, a stand-in for the error
            raise error from None
        raise
    finally:
        task.remove_done_callback(stopped)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
