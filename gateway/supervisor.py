"""Device supervision: one owned task per configured device, reconnecting with backoff.

A runner does one session and returns or raises; this module decides when to try again. A
device whose transport is missing (no BlueZ, no serial port) gets a clear message and a slow
retry, and never takes the other devices or the gateway down with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from core.backoff import Backoff
from core.devices import DeviceConfig, DeviceContext, DeviceStatus, RunnerFactory
from core.errors import CoreError
from core.events import DeviceState, EventBus
from core.reading import Reading
from core.sink import CommitResult, Cursor, ReadingSink
from drivers.errors import DeviceUnavailableError, DriverError
from gateway.transports import runner_factory

_LOGGER = logging.getLogger(__name__)


def _stop_if_cancelled(name: str) -> None:
    """Honour a cancellation that a driver (or a library under it) swallowed.

    A session that catches CancelledError and returns would otherwise send this loop back to
    sleep and reconnect for ever, and the gateway would never stop (systemd would SIGKILL it).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        _LOGGER.warning("device %s: its driver swallowed the stop request; stopping anyway", name)
        raise asyncio.CancelledError


class CountingSink:
    """The device's sink, counting into its status what each commit really did.

    Counted here, from the outbox's answer, for every transport alike: a meter that re-sends
    its whole memory on each connection must not look as if it delivered new readings (the
    operator saw 4,715 "readings" from a monitor that had produced about 130).
    """

    def __init__(self, sink: ReadingSink, status: DeviceStatus) -> None:
        self._sink = sink
        self._status = status

    async def commit(
        self, readings: Sequence[Reading], *, cursor: Cursor | None = None
    ) -> CommitResult:
        result = await self._sink.commit(readings, cursor=cursor)
        self._status.readings_stored += result.stored
        self._status.records_resent += result.duplicates
        return result

    async def get_cursor(self, device_id: str, name: str = "records") -> str | None:
        return await self._sink.get_cursor(device_id, name)


class DeviceSupervisor:
    def __init__(
        self,
        config: DeviceConfig,
        sink: ReadingSink,
        status: DeviceStatus,
        events: EventBus,
        *,
        gateway_id: str,
        site_id: str | None,
        clock: Callable[[], datetime],
        factories: Mapping[str, RunnerFactory] | None = None,
        backoff: Backoff | None = None,
        idle_s: float = 5.0,
    ) -> None:
        self.config = config
        self.status = status
        self._events = events
        self._ctx = DeviceContext(
            config=config,
            sink=CountingSink(sink, status),
            status=status,
            events=events,
            gateway_id=gateway_id,
            site_id=site_id,
            clock=clock,
        )
        self._factories = factories or {}
        self._clock = clock
        self.backoff = backoff or Backoff(
            initial_s=float(config.options.get("retry_initial_s", 2.0)),
            cap_s=float(config.options.get("retry_max_s", 120.0)),
        )
        self._idle_s = float(config.options.get("poll_s", idle_s))
        # Set by wake(): someone is about to use the device (a kiosk "measure" request), so
        # the retry delay or idle pause in progress ends now. A backoff of up to 120 s would
        # otherwise outlast the kiosk's measurement timeout.
        self._wake = asyncio.Event()
        # Totals since start for the metrics endpoint: status.failures counts only the
        # failures in a row and is reset by the next good session.
        self.sessions_total = 0
        self.errors_total = 0

    def wake(self) -> None:
        """Try the device now instead of after the pause in progress (call on the loop)."""
        self._wake.set()

    def _set_state(self, state: str, detail: str | None = None) -> None:
        self.status.state = state
        self._events.publish(DeviceState(self.config.name, state, detail, self._clock()))

    async def run(self) -> None:
        name = self.config.name
        try:
            factory = runner_factory(self.config.transport, self._factories)
            runner = factory(self.config)
        except (ImportError, ValueError, DriverError, CoreError) as exc:
            self.status.last_error = f"cannot start driver: {exc}"
            self._set_state("error", self.status.last_error)
            _LOGGER.error("device %s: cannot start its driver: %s", name, exc)
            return
        while True:
            # A wake during the session stays set: the session may have missed what it was
            # about (a record stored after the meter's memory was read), so try again at once.
            self._wake.clear()
            self._set_state("connecting")
            self.sessions_total += 1
            try:
                await runner.run_once(self._ctx)
            except asyncio.CancelledError:
                raise
            except DeviceUnavailableError as exc:
                delay = self._failed(exc, "unavailable")
            except (DriverError, CoreError, OSError, TimeoutError) as exc:
                delay = self._failed(exc, "error")
            except Exception as exc:
                # A bug in one driver must not stop the other devices or the gateway.
                _LOGGER.exception("device %s: unexpected error in its driver", name)
                delay = self._failed(exc, "error")
            else:
                self.status.failures = 0
                self.status.last_error = None
                self.backoff.reset()
                self._set_state("idle")
                delay = self._idle_s
            _stop_if_cancelled(name)
            await self._pause(delay)

    async def _pause(self, delay: float) -> None:
        """Sleep `delay` seconds, or less if woken; the backoff still grows on failures."""
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            return
        _LOGGER.info("device %s: woken (a measurement was requested): trying now",
                     self.config.name)

    def _failed(self, exc: BaseException, state: str) -> float:
        self.status.failures += 1
        self.errors_total += 1
        self.status.last_error = f"{type(exc).__name__}: {exc}"
        self._set_state(state, self.status.last_error)
        delay = self.backoff.next_delay()
        _LOGGER.warning(
            "device %s: %s (attempt %d; next try in %.1f s)",
            self.config.name,
            exc,
            self.status.failures,
            delay,
        )
        return delay
