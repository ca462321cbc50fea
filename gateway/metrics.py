"""Prometheus `/metrics` for a running gateway (names and labels: METRICS.md).

Nothing here keeps a count of its own. At each scrape the collector reads the live objects:
the publisher's state, each device's status and supervisor, and the outbox's counts. The
scrape arrives on prometheus_client's HTTP server thread; the snapshot is taken on the
gateway's event loop (where those objects change, so a scrape never sees one half-updated)
and the outbox query runs on the outbox's own database thread, never on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from gateway import __version__
from gateway.errors import OutboxError
from gateway.outbox_store import Counts
from gateway.publisher import PublisherState
from gateway.service import Gateway

_LOGGER = logging.getLogger(__name__)

PREFIX = "gempita_gateway"
OUTBOX_STATES = ("pending", "published", "confirmed")
# A scrape waits this long for the loop and the outbox; Prometheus's own scrape timeout is
# 10 s by default, and a slower answer is worth less than a failed scrape that says so.
SNAPSHOT_TIMEOUT_S = 8.0
BIND_RETRY_S = 30.0


@dataclass(frozen=True, slots=True)
class DeviceFigures:
    name: str
    state: str
    sessions: int
    errors: int
    readings_stored: int
    records_resent: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one scrape reports, copied on the event loop."""

    gateway_id: str
    publisher: PublisherState
    devices: tuple[DeviceFigures, ...]
    counts: Counts | None  # None: the outbox could not be asked (closed, disk trouble)
    max_readings: int
    alarms: tuple[str, ...]
    at: float


async def take_snapshot(gateway: Gateway, clock: Callable[[], float] = time.time) -> Snapshot:
    """The figures of `gateway` now (on its loop; the outbox query on the outbox's thread)."""
    p = gateway.publisher.state
    publisher = PublisherState(
        connected=p.connected,
        broker=p.broker,
        published_total=p.published_total,
        refused_total=p.refused_total,
        confirmed_total=p.confirmed_total,
        unknown_receipts=p.unknown_receipts,
        bad_receipts=p.bad_receipts,
        resent_total=p.resent_total,
        unheard_total=p.unheard_total,
        connects=p.connects,
        refusals_by_reason=dict(p.refusals_by_reason),
    )
    devices = []
    for name, status in gateway.devices.items():
        supervisor = gateway.supervisors.get(name)
        devices.append(
            DeviceFigures(
                name=name,
                state=status.state,
                sessions=supervisor.sessions_total if supervisor else 0,
                errors=supervisor.errors_total if supervisor else 0,
                readings_stored=status.readings_stored,
                records_resent=status.records_resent,
            )
        )
    alarms = tuple(gateway.outbox.alarms.as_list()) + (
        ("status_file",) if gateway.status_file_error else ()
    )
    counts: Counts | None
    try:
        counts = await gateway.outbox.counts()
    except OutboxError as exc:
        # The other families are still worth a scrape; outbox_counts_ok says this one failed.
        _LOGGER.debug("metrics: outbox counts unavailable: %s", exc)
        counts = None
    return Snapshot(
        gateway_id=gateway.config.gateway.id,
        publisher=publisher,
        devices=tuple(devices),
        counts=counts,
        max_readings=gateway.config.outbox.max_readings,
        alarms=alarms,
        at=clock(),
    )


def families(snap: Snapshot) -> Iterable[Metric]:
    """The metric families of one snapshot (pure: unit-tested on hand-made snapshots)."""
    info = InfoMetricFamily(PREFIX, "This gateway: its id and software version.")
    info.add_metric([], {"gateway_id": snap.gateway_id, "version": __version__})
    yield info

    ok = GaugeMetricFamily(
        f"{PREFIX}_outbox_counts_ok",
        "1 when this scrape could count the outbox; 0 when it could not (the outbox "
        "figures are then absent).",
    )
    ok.add_metric([], 1.0 if snap.counts is not None else 0.0)
    yield ok
    if snap.counts is not None:
        c = snap.counts
        depth = GaugeMetricFamily(
            f"{PREFIX}_outbox_readings",
            "Readings in the outbox by delivery state.",
            labels=["state"],
        )
        for state, value in zip(OUTBOX_STATES, (c.pending, c.published, c.confirmed), strict=True):
            depth.add_metric([state], float(value))
        yield depth
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_refused_readings",
            "Pending readings waiting to be retried after the broker refused them.",
            value=float(c.refused),
        )
        oldest = c.oldest_pending_created_at
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_oldest_unconfirmed_age_seconds",
            "Age of the oldest reading not yet confirmed by central; 0 when all are confirmed.",
            value=0.0 if oldest is None else max(0.0, snap.at - oldest),
        )
    yield GaugeMetricFamily(
        f"{PREFIX}_outbox_max_readings",
        "Unconfirmed readings the outbox keeps before it refuses new ones (outbox.max_readings).",
        value=float(snap.max_readings),
    )
    alarm = GaugeMetricFamily(
        f"{PREFIX}_alarm", "1 for each alarm raised now (outbox full, storage...).",
        labels=["alarm"],
    )
    for name in snap.alarms:
        alarm.add_metric([name.split(":", 1)[0]], 1.0)
    yield alarm

    p = snap.publisher
    for name, doc, value in (
        ("readings_published", "Readings the broker acknowledged (PUBACK below 0x80).",
         p.published_total),
        ("readings_confirmed", "Readings central's receipts confirmed.", p.confirmed_total),
        ("readings_resent", "Readings sent again because their receipt did not come.",
         p.resent_total),
        ("puback_no_subscriber", "PUBACKs 0x10: no subscriber took the reading; kept and "
         "sent again.", p.unheard_total),
        ("receipts_unknown", "Receipt ids unknown or already confirmed (harmless duplicates).",
         p.unknown_receipts),
        ("receipts_malformed", "Receipts that could not be parsed (acknowledged, ignored).",
         p.bad_receipts),
    ):
        yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value=float(value))
    errors = CounterMetricFamily(
        f"{PREFIX}_puback_errors",
        "PUBACKs refusing a reading (reason code 0x80 or above), by reason code and name.",
        labels=["code", "reason"],
    )
    for reason, value in sorted(p.refusals_by_reason.items()):
        code, _, text = reason.partition(" ")
        errors.add_metric([code, text], float(value))
    yield errors
    yield GaugeMetricFamily(
        f"{PREFIX}_broker_connected", "1 while connected to the broker.",
        value=1.0 if p.connected else 0.0,
    )
    yield CounterMetricFamily(
        f"{PREFIX}_broker_reconnects",
        "Connections to the broker after the first one.",
        value=float(max(0, p.connects - 1)),
    )

    per_device: list[tuple[str, str, Callable[[DeviceFigures], int]]] = [
        ("device_sessions", "Sessions started with the device (connect, read, done).",
         lambda d: d.sessions),
        ("device_errors", "Device sessions that failed.", lambda d: d.errors),
        ("device_readings_stored", "Readings from the device new to the outbox.",
         lambda d: d.readings_stored),
        ("device_records_resent", "Records the device sent again that the outbox already had.",
         lambda d: d.records_resent),
    ]
    for name, doc, get in per_device:
        family = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=["device"])
        for device in snap.devices:
            family.add_metric([device.name], float(get(device)))
        yield family
    states = GaugeMetricFamily(
        f"{PREFIX}_device_state",
        "1 for each device's current state (idle, connecting, error, unavailable...).",
        labels=["device", "state"],
    )
    for device in snap.devices:
        states.add_metric([device.name, device.state], 1.0)
    yield states


class GatewayCollector(Collector):
    """Collects `gateway`'s figures at scrape time, from a thread other than its loop's."""

    def __init__(
        self,
        gateway: Gateway,
        loop: asyncio.AbstractEventLoop,
        *,
        timeout_s: float = SNAPSHOT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._gateway = gateway
        self._loop = loop
        self._timeout_s = timeout_s
        self._clock = clock

    def collect(self) -> Iterable[Metric]:
        if self._loop.is_running() and _on_loop_thread(self._loop):
            # Waiting here for a coroutine on this same loop would never return.
            raise RuntimeError("GatewayCollector.collect() must run off the gateway's loop")
        future = asyncio.run_coroutine_threadsafe(
            take_snapshot(self._gateway, self._clock), self._loop
        )
        try:
            snap = future.result(self._timeout_s)
        except TimeoutError:
            future.cancel()
            raise
        return list(families(snap))


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    with contextlib.suppress(RuntimeError):
        return asyncio.get_running_loop() is loop
    return False


@dataclass(slots=True)
class MetricsServer:
    """A running /metrics endpoint; `close()` blocks briefly (call it off the event loop)."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def serve_registry(registry: CollectorRegistry, host: str, port: int) -> MetricsServer:
    """prometheus_client's HTTP server for `registry` on host:port (port 0: any free one)."""
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(server, thread)


def gateway_registry(gateway: Gateway, loop: asyncio.AbstractEventLoop) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(gateway, loop))
    # Memory and CPU of this process: a Pi's RSS is one of the things we watch (bench/ (d)).
    ProcessCollector(registry=registry)
    return registry


def metrics_host(host: str, port: int) -> Callable[[Gateway], Coroutine[Any, Any, None]]:
    """A task for `Gateway(hosted=...)`: the endpoint lives and ends with the gateway.

    A port already taken is logged and tried again later, and the gateway goes on: readings
    matter more than the figures about them.
    """

    async def serve(gateway: Gateway) -> None:
        registry = gateway_registry(gateway, asyncio.get_running_loop())
        server: MetricsServer | None = None
        while server is None:
            try:
                # Binding a socket is blocking I/O: not on the loop.
                server = await asyncio.to_thread(serve_registry, registry, host, port)
            except OSError as exc:
                _LOGGER.error(
                    "metrics.listen: cannot listen on %s:%d: %s; choose a free port (or "
                    'listen = "" for none). Trying again in %.0f s',
                    host, port, exc.strerror or exc, BIND_RETRY_S,
                )
                await asyncio.sleep(BIND_RETRY_S)
        _LOGGER.info("metrics on http://%s:%d/metrics", host, server.port)
        try:
            await asyncio.Event().wait()  # until the gateway stops
        finally:
            await asyncio.to_thread(server.close)

    return serve


__all__ = [
    "GatewayCollector",
    "MetricsServer",
    "Snapshot",
    "families",
    "gateway_registry",
    "metrics_host",
    "serve_registry",
    "take_snapshot",
]
