"""Prometheus `/metrics` for a running central (names and labels: METRICS.md).

Read at scrape time, on prometheus_client's HTTP server thread: the service's counters and
its consumer lag are copied on the service's event loop (where they change); the store is
counted through its own engine from the scrape thread (never on the loop); FHIR delivery
states come from a hook given by whoever owns that table.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from central.service import CentralService

_LOGGER = logging.getLogger(__name__)

PREFIX = "gempita_central"
SNAPSHOT_TIMEOUT_S = 8.0  # below Prometheus's default 10 s scrape timeout

# Reading states of FHIR delivery, by count: e.g. {"queued": 3, "accepted": 120, "failed": 1}.
DeliveryCounts = Callable[[], Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    stored: int
    duplicates: int
    dead_letters: int
    receipts_sent: int
    subscribed: bool
    uncommitted: int
    oldest_uncommitted_age_s: float | None


@dataclass(frozen=True, slots=True)
class StoreFigures:
    readings: int
    dead_letters: int


def service_figures(
    service: CentralService, monotonic: Callable[[], float] = time.monotonic
) -> ServiceFigures:
    """The service's figures now; call on its loop."""
    s = service.stats
    count, oldest = service.uncommitted
    return ServiceFigures(
        stored=s.stored,
        duplicates=s.duplicates,
        dead_letters=s.dead_letters,
        receipts_sent=s.receipts_sent,
        subscribed=service.ready.is_set(),
        uncommitted=count,
        oldest_uncommitted_age_s=None if oldest is None else max(0.0, monotonic() - oldest),
    )


def families(
    figures: ServiceFigures,
    store: StoreFigures | None,
    delivery: Mapping[str, int] | None,
) -> Iterable[Metric]:
    """The metric families (pure: unit-tested on hand-made figures)."""
    for name, doc, value in (
        ("readings_stored", "Readings this process stored for the first time.", figures.stored),
        ("readings_duplicate", "Readings received again that were already stored.",
         figures.duplicates),
        ("dead_letters", "Messages set aside as dead letters (unparseable, wrong namespace...).",
         figures.dead_letters),
        ("receipt_ids_sent", "Reading ids confirmed to gateways in receipts.",
         figures.receipts_sent),
    ):
        yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value=float(value))
    yield GaugeMetricFamily(
        f"{PREFIX}_subscribed", "1 while subscribed to the readings on the broker.",
        value=1.0 if figures.subscribed else 0.0,
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_consumer_uncommitted_messages",
        "Messages received from the broker and not yet committed and acknowledged.",
        value=float(figures.uncommitted),
    )
    oldest = figures.oldest_uncommitted_age_s
    yield GaugeMetricFamily(
        f"{PREFIX}_consumer_oldest_uncommitted_age_seconds",
        "How long the oldest uncommitted message has waited; 0 when none waits.",
        value=0.0 if oldest is None else oldest,
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_store_ok",
        "1 when this scrape could count the store; 0 when it could not (the store figures "
        "are then absent).",
        value=1.0 if store is not None else 0.0,
    )
    if store is not None:
        yield GaugeMetricFamily(
            f"{PREFIX}_store_readings", "Readings in the store (all instances).",
            value=float(store.readings),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_store_dead_letters", "Dead letters in the store (all instances).",
            value=float(store.dead_letters),
        )
    if delivery is not None:
        fhir = GaugeMetricFamily(
            f"{PREFIX}_fhir_delivery",
            "Readings by FHIR delivery state (queued, accepted, failed...).",
            labels=["state"],
        )
        for state, value in sorted(delivery.items()):
            fhir.add_metric([state], float(value))
        yield fhir


class CentralCollector(Collector):
    """Collects a running `service`'s figures from a thread other than its loop's."""

    def __init__(
        self,
        service: CentralService,
        loop: asyncio.AbstractEventLoop,
        *,
        delivery_counts: DeliveryCounts | None = None,
        timeout_s: float = SNAPSHOT_TIMEOUT_S,
    ) -> None:
        self._service = service
        self._loop = loop
        self._delivery_counts = delivery_counts
        self._timeout_s = timeout_s

    def collect(self) -> Iterable[Metric]:
        if _running_loop() is self._loop:
            # Waiting here for a callback on this same loop would never return.
            raise RuntimeError("CentralCollector.collect() must run off the service's loop")
        figures = asyncio.run_coroutine_threadsafe(self._figures(), self._loop).result(
            self._timeout_s
        )
        store: StoreFigures | None
        try:
            s = self._service.store
            store = StoreFigures(readings=s.count(), dead_letters=s.dead_letter_count())
        except SQLAlchemyError as exc:
            # The database is down or refusing: say so (store_ok 0) rather than fail the
            # whole scrape and lose the lag figures, which matter most right then.
            _LOGGER.warning("metrics: store not counted: %s", type(exc).__name__)
            store = None
        delivery = None if self._delivery_counts is None else self._delivery_counts()
        return list(families(figures, store, delivery))

    async def _figures(self) -> ServiceFigures:
        return service_figures(self._service)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@dataclass(slots=True)
class MetricsHandle:
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


def start_metrics_server(
    service: CentralService,
    *,
    host: str = "127.0.0.1",
    port: int = 9109,
    delivery_counts: DeliveryCounts | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
) -> MetricsHandle:
    """Serve `service`'s metrics on http://host:port/metrics (port 0: any free port).

    `loop` is the service's event loop; by default the running one (call from it, then).
    `delivery_counts` is called on the scrape thread, so it may query a database. Raises
    OSError when the address cannot be bound.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        CentralCollector(
            service, loop or asyncio.get_running_loop(), delivery_counts=delivery_counts
        )
    )
    ProcessCollector(registry=registry)
    server, thread = start_http_server(port, addr=host, registry=registry)
    _LOGGER.info("central metrics on http://%s:%d/metrics", host, server.server_address[1])
    return MetricsHandle(server, thread)


__all__ = [
    "CentralCollector",
    "DeliveryCounts",
    "MetricsHandle",
    "families",
    "service_figures",
    "start_metrics_server",
]
