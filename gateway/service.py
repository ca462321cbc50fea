"""The running gateway: outbox, publisher, device supervisors, status and systemd.

`Gateway.run()` owns every task in one TaskGroup; cancelling it (SIGTERM, Ctrl-C) stops the
devices first, lets the outbox commit what it was handed, then says "offline" to the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from core.assurance import Policy
from core.backoff import Backoff
from core.clock import site_zone, utc_now
from core.devices import DeviceConfig, DeviceStatus, RunnerFactory
from core.events import EventBus
from core.mqtt import BrokerSettings
from core.sink import Binder
from gateway import __version__
from gateway.assurance import AssuranceBook
from gateway.clock_trust import ClockProbe, clock_status, kernel_clock_synced
from gateway.config import Config
from gateway.errors import OutboxError
from gateway.outbox import Outbox
from gateway.pipeline import DeviceSink
from gateway.publisher import Publisher
from gateway.sdnotify import Notifier
from gateway.supervisor import DeviceSupervisor

_LOGGER = logging.getLogger(__name__)

STATUS_FILE = "status.json"
# The status file is padded to whole blocks with room to spare (trailing spaces are valid
# JSON), so that when the disk is full a new status can still overwrite it in place.
STATUS_FILE_BLOCK = 4096


def write_status_text(path: Path, text: str) -> None:
    """Replace the status file atomically; on a full disk, overwrite its blocks in place."""
    data = text.encode()
    size = (len(data) // STATUS_FILE_BLOCK + 2) * STATUS_FILE_BLOCK
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_bytes(data.ljust(size))
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        # Overwriting blocks the file already has needs no new space (tmpfs, ext4). Not
        # atomic: a reader may catch it half-written, once, instead of a stale file for ever.
        fd = os.open(path, os.O_WRONLY)
        try:
            if len(data) > os.fstat(fd).st_size:
                raise
            os.pwrite(fd, data.ljust(os.fstat(fd).st_size), 0)
        finally:
            os.close(fd)


def broker_settings(config: Config) -> BrokerSettings:
    m = config.mqtt
    return BrokerSettings(
        url=m.url,
        client_id=config.client_id,
        ca_file=m.ca_file,
        cert_file=m.cert_file,
        key_file=m.key_file,
        keepalive_s=m.keepalive_s,
        # Keep the receipts subscription across reconnects: receipts sent while the kiosk was
        # offline are delivered when it is back.
        session_expiry_s=7 * 24 * 3600,
    )


# What a gateway can host beside its own tasks (the kiosk's web server): a coroutine function
# given the running gateway, started in its TaskGroup under the mapping's name.
HostedTask = Callable[["Gateway"], Coroutine[Any, Any, None]]


class Gateway:
    """The service. It knows nothing of the kiosk or the simulators: the composition root
    (`gateway/cli/`) hands it a binder, the extra transports and what it hosts."""

    def __init__(
        self,
        config: Config,
        *,
        binder: Binder | None = None,
        factories: Mapping[str, RunnerFactory] | None = None,
        hosted: Mapping[str, HostedTask] | None = None,
        notifier: Notifier | None = None,
        maintenance_interval_s: float = 30.0,
        status_file_interval_s: float = 2.0,
        wall_clock: Callable[[], datetime] = utc_now,
        measurement_hook: Callable[[str], None] | None = None,
        clock_probe: ClockProbe = kernel_clock_synced,
    ) -> None:
        self.config = config
        self._clock_probe = clock_probe
        # Asks a device to measure now (simulators in the demo; real monitors ignore it).
        self._measurement_hook = measurement_hook
        self.supervisors: dict[str, DeviceSupervisor] = {}
        self.events = EventBus()
        self.binder = binder
        self.notifier = notifier or Notifier()
        self._factories = factories
        self._hosted = dict(hosted or {})
        self._maintenance_interval_s = maintenance_interval_s
        self._status_file_interval_s = status_file_interval_s
        self._clock = wall_clock
        a = config.assurance
        self.assurance: AssuranceBook | None = (
            AssuranceBook(
                config.assurance_path,
                Policy(
                    control_every_days=a.control_every_days,
                    battery_critical_pct=a.battery_critical_pct,
                    calibration_required=a.calibration_required,
                ),
                site_zone(config.gateway.timezone),
                wall_clock,
                qc_log_max=a.qc_log_max,
            )
            if a.enabled
            else None
        )
        o = config.outbox
        self.outbox = Outbox(
            config.outbox_path,
            synchronous=o.synchronous,
            max_readings=o.max_readings,
            max_db_mb=o.max_db_mb,
            batch_max=o.batch_max,
        )
        m = config.mqtt
        self.publisher = Publisher(
            self.outbox,
            broker_settings(config),
            config.gateway.id,
            window=m.window,
            backoff=Backoff(initial_s=m.backoff_initial_s, cap_s=m.backoff_max_s),
            error_retry_s=m.error_retry_s,
            receipt_timeout_s=m.receipt_timeout_s,
            resend_after_s=o.resend_after_s,
            status_interval_s=m.status_interval_s,
            status_extra=self.status_snapshot,
        )
        self.devices = {
            d.name: DeviceStatus(name=d.name, transport=d.transport, kind=d.kind)
            for d in config.devices
        }
        self.sinks: dict[str, DeviceSink] = {}
        self._group: asyncio.TaskGroup | None = None  # run()'s, for devices added meanwhile
        self.ready = asyncio.Event()
        self.started_at = time.monotonic()
        self._last_counts: dict[str, Any] = {}
        self.status_file_error: str | None = None

    # --- measuring ----------------------------------------------------------------------------

    def request_measurement(self, kind: str) -> None:
        """A resident is about to measure `kind`: wake the devices that may take it, then ask.

        A device whose last session failed sleeps out its retry delay (up to the cap, 120 s by
        default) before it connects again, longer than the kiosk waits for a result. The meter
        is in use now, so it is worth a connection attempt now. Devices whose kind is not known
        yet are woken too: one extra attempt is cheap, a missed measurement is not.
        """
        self.wake_devices(kind)
        if self._measurement_hook is not None:
            self._measurement_hook(kind)

    def wake_devices(self, kind: str) -> None:
        """Connect now to the devices that may hold a new reading of `kind`."""
        for name, supervisor in self.supervisors.items():
            if self.devices[name].kind in (kind, None):
                supervisor.wake()

    # --- status -------------------------------------------------------------------------------

    def status_snapshot(self) -> dict[str, Any]:
        """Status for the retained status topic and the status file (cheap: no DB query)."""
        return {
            "site_id": self.config.gateway.site_id or None,
            "kind": self.config.gateway.kind,
            "outbox": self._last_counts,
            "clock": clock_status(self._clock_probe),
            "alarms": self.outbox.alarms.as_list()
            + ([f"status_file: {self.status_file_error}"] if self.status_file_error else []),
            "devices": [self.device_status(d) for d in self.devices.values()],
        }

    def device_status(self, status: DeviceStatus) -> dict[str, Any]:
        """One device for the status topic and the operator page, with its assurance."""
        body = status.as_dict()
        book = self.assurance
        body["assurance"] = (
            None
            if book is None
            else book.as_status(status.name, status.kind, status.battery_pct)
        )
        return body

    async def refresh_counts(self) -> None:
        counts = await self.outbox.counts()
        oldest = counts.oldest_pending_created_at
        self._last_counts = {
            "pending": counts.pending,
            "published": counts.published,
            "confirmed": counts.confirmed,
            "refused": counts.refused,
            "unconfirmed": counts.unconfirmed,
            "max_readings": self.config.outbox.max_readings,
            "oldest_pending_age_s": None if oldest is None else round(time.time() - oldest, 1),
            "last_error": counts.last_error,
        }

    async def write_status_file(self, state: str = "running") -> None:
        """Snapshot the state here (on the loop), write the file in a thread (disk I/O)."""
        path = Path(self.config.gateway.state_dir) / STATUS_FILE
        body = {
            "gateway_id": self.config.gateway.id,
            "version": __version__,
            "state": state,
            "pid": os.getpid(),
            "updated_at": time.time(),
            "publisher": self.publisher.state.as_dict(),
            **self.status_snapshot(),
        }
        await asyncio.to_thread(write_status_text, path, json.dumps(body, indent=1))

    # --- tasks --------------------------------------------------------------------------------

    async def _maintenance(self) -> None:
        o = self.config.outbox
        while True:
            try:
                if self.outbox.alarms.storage and await self.outbox.probe_storage():
                    _LOGGER.warning("outbox storage has room again")
                requeued = await self.outbox.requeue_unconfirmed(o.resend_after_s)
                if requeued:
                    _LOGGER.warning(
                        "%d readings were published but not confirmed within %.0f s: "
                        "sending again",
                        requeued,
                        o.resend_after_s,
                    )
                purged = await self.outbox.purge_confirmed(o.retention_hours * 3600)
                if purged:
                    _LOGGER.info("purged %d confirmed readings past retention", purged)
            except OutboxError as exc:
                # A full disk must not end the gateway: the alarm is up, try again later.
                _LOGGER.warning("outbox maintenance skipped: %s", exc)
            await asyncio.sleep(self._maintenance_interval_s)

    async def _status_files(self) -> None:
        alarms: list[str] = []
        while True:
            try:
                await self.refresh_counts()
            except OutboxError as exc:
                _LOGGER.debug("outbox counts not refreshed: %s", exc)  # the last ones stay
            try:
                await self.write_status_file()
                self.status_file_error = None
            except OSError as exc:
                # ENOSPC on a full state disk: say it on the retained status topic instead.
                if self.status_file_error is None:
                    _LOGGER.error("status file not written: %s", exc)
                self.status_file_error = exc.strerror or type(exc).__name__
            if self.status_snapshot()["alarms"] != alarms:
                alarms = self.status_snapshot()["alarms"]
                self.publisher.status_changed.set()
            await asyncio.sleep(self._status_file_interval_s)

    async def _watchdog(self, interval: float) -> None:
        while True:
            # Ping only while the event loop and the database thread both answer.
            await self.outbox.get_cursor("-watchdog-", "-")
            self.notifier.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    def _start_device(self, device: DeviceConfig) -> None:
        if self._group is None:
            raise RuntimeError("devices start inside Gateway.run()")
        status = self.devices[device.name]
        if self.assurance is not None and "keep_control_solution" not in device.options:
            # Control-solution records feed the QC log now, so the drivers must hand them on.
            device = dataclasses.replace(
                device, options={**device.options, "keep_control_solution": True}
            )
        sink = DeviceSink(
            self.outbox,
            device.name,
            self.events,
            self.binder,
            assurance=self.assurance,
            battery=lambda: status.battery_pct,
        )
        self.sinks[device.name] = sink
        supervisor = DeviceSupervisor(
            device,
            sink,
            status,
            self.events,
            gateway_id=self.config.gateway.id,
            site_id=self.config.gateway.site_id or None,
            clock=self._clock,
            factories=self._factories,
        )
        self.supervisors[device.name] = supervisor
        self._group.create_task(supervisor.run(), name=f"device:{device.name}")

    def add_device(self, device: DeviceConfig) -> None:
        """Start reading a device while running (a meter paired from the operator page)."""
        if device.name in self.devices:
            raise ValueError(f"a device named {device.name!r} is already configured")
        self.devices[device.name] = DeviceStatus(
            name=device.name, transport=device.transport, kind=device.kind
        )
        self.config = dataclasses.replace(self.config, devices=(*self.config.devices, device))
        self._start_device(device)

    async def run(self) -> None:
        await self.outbox.open()
        try:
            await self.refresh_counts()
            async with asyncio.TaskGroup() as group:
                group.create_task(self.publisher.run(), name="publisher")
                group.create_task(self._maintenance(), name="outbox-maintenance")
                self._group = group
                for device in self.config.devices:
                    self._start_device(device)
                for name, hosted in self._hosted.items():
                    group.create_task(hosted(self), name=name)
                group.create_task(self._status_files(), name="status-file")
                interval = self.notifier.watchdog_interval_s()
                if interval:
                    group.create_task(self._watchdog(interval), name="systemd-watchdog")
                self.ready.set()
                self.notifier.notify(f"READY=1\nSTATUS=gateway {self.config.gateway.id} running")
                _LOGGER.info(
                    "gateway %s ready in %.2f s (%d devices, outbox %s)",
                    self.config.gateway.id,
                    time.monotonic() - self.started_at,
                    len(self.config.devices),
                    self.config.outbox_path,
                )
        finally:
            self.notifier.notify("STOPPING=1")
            await self.outbox.close()
            with contextlib.suppress(OSError):
                await self.write_status_file("stopped")
