"""`make_runner` for ``transport = "serial"``: find the port, open the link, run one session.

Hotplug works through the supervisor: when the configured path (e.g. ``/dev/serial/by-id/...``)
does not exist, `run_once` raises `PortMissingError` at once instead of waiting on a dead port;
the supervisor backs off and calls again, and a fresh session starts once udev has re-created
the path. A cable pulled mid-transfer surfaces as `LinkLostError` from the session the same way.

Options (``[devices.<name>.options]``): ``set_clock`` (bool, default false: write the gateway's
site-local time into the meter after the records are committed), ``site_tz`` (IANA zone the
meter clock runs in: the gateway's ``gateway.timezone`` unless the device overrides it, filled
in when the config is loaded; ``Asia/Makassar`` only without a gateway config), ``timeout_s``
(per reply), ``retries`` (per request), ``batch`` (readings per commit while a memory dump streams).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from serial.tools import list_ports

from core.clock import DEFAULT_SITE_TZ, UnknownTimeZoneError, site_zone
from core.devices import DeviceConfig, DeviceContext
from drivers.errors import UsageError
from drivers.serial import registry
from drivers.serial.errors import PortMissingError
from drivers.serial.link import PortOpener, open_link
from drivers.serial.registry import SerialProtocol, UsbId
from drivers.serial.session_base import DEFAULT_BATCH, SessionSettings, publish_state

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PortInfo:
    device: str
    vid: int | None
    pid: int | None


PortLister = Callable[[], Sequence[PortInfo]]


def list_usb_ports() -> list[PortInfo]:
    """The system's serial ports with their USB ids (scans sysfs: call it off the event loop)."""
    return [PortInfo(p.device, p.vid, p.pid) for p in list_ports.comports()]


def make_runner(
    config: DeviceConfig,
    *,
    port_lister: PortLister | None = None,
    opener: PortOpener | None = None,
) -> SerialRunner:
    if not config.protocol:
        raise UsageError(
            f"serial device {config.name!r} needs a protocol; use one of "
            f"{', '.join(registry.names())}"
        )
    protocol = registry.get(config.protocol)
    options = _options(config.options)
    return SerialRunner(config, protocol, options, port_lister or list_usb_ports, opener)


@dataclass(frozen=True, slots=True)
class _Options:
    set_clock: bool
    site_tz: str
    timeout_s: float
    retries: int
    batch: int


def _options(raw: Mapping[str, Any]) -> _Options:
    set_clock = raw.get("set_clock", False)
    if not isinstance(set_clock, bool):
        raise UsageError("option set_clock must be true or false")
    site_tz = str(raw.get("site_tz", DEFAULT_SITE_TZ))
    try:
        site_zone(site_tz)  # fail at start-up, not in the first session
    except UnknownTimeZoneError as exc:
        raise UsageError(f"option site_tz: {exc}") from exc
    try:
        timeout_s = float(raw.get("timeout_s", 2.0))
        retries = int(raw.get("retries", 3))
        batch = int(raw.get("batch", DEFAULT_BATCH))
    except (TypeError, ValueError) as exc:
        raise UsageError("options timeout_s, retries and batch must be numbers") from exc
    if timeout_s <= 0 or retries < 0 or batch < 1:
        raise UsageError("option timeout_s must be > 0, retries >= 0 and batch >= 1")
    return _Options(set_clock, site_tz, timeout_s, retries, batch)


class SerialRunner:
    def __init__(
        self,
        config: DeviceConfig,
        protocol: SerialProtocol,
        options: _Options,
        port_lister: PortLister,
        opener: PortOpener | None,
    ) -> None:
        self._config = config
        self._protocol = protocol
        self._options = options
        self._port_lister = port_lister
        self._opener = opener

    @property
    def protocol(self) -> SerialProtocol:
        return self._protocol

    async def run_once(self, ctx: DeviceContext) -> None:
        port = await self.resolve_port()
        publish_state(ctx, "connecting", port)
        settings = SessionSettings(
            protocol=self._protocol.name,
            port=port,
            set_clock=self._options.set_clock,
            site_tz=self._options.site_tz,
            timeout_s=self._options.timeout_s,
            retries=self._options.retries,
            batch=self._options.batch,
        )
        session = self._protocol.load_session()(settings)
        link = await open_link(port, self._protocol.line, name=self._config.name,
                               opener=self._opener)
        try:
            await session.run(link, ctx)
        finally:
            link.close()
        publish_state(ctx, "idle")

    async def resolve_port(self) -> str:
        configured = self._config.port
        if configured:
            is_path = "://" not in configured
            if is_path and not await asyncio.to_thread(os.path.exists, configured):
                raise PortMissingError(
                    f"serial port {configured} is missing: plug the meter cable in"
                )
            return configured
        wanted = (
            [UsbId.parse(self._config.usb_vid_pid)]
            if self._config.usb_vid_pid
            else [(u.vid, u.pid) for u in self._protocol.usb_ids]
        )
        ports = await asyncio.to_thread(self._port_lister)
        matches = sorted({p.device for p in ports if (p.vid, p.pid) in wanted})
        if not matches:
            ids = ", ".join(f"{v:04x}:{p:04x}" for v, p in wanted)
            raise PortMissingError(f"no USB serial port with id {ids}: plug the meter cable in")
        if len(matches) > 1:
            raise PortMissingError(
                f"several USB serial ports match ({', '.join(matches)}); set 'port' for "
                f"device {self._config.name!r}, preferably a /dev/serial/by-id/ path"
            )
        _LOGGER.debug("device %s: found port %s by USB id", self._config.name, matches[0])
        return matches[0]
