"""`gempita central` with no command: run the central service."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import socket
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from gateway.cli.output import EXIT_OK, fail, run_async, setup_logging

if TYPE_CHECKING:
    from fastapi import APIRouter
    from sqlalchemy.engine import Engine

    from central.background import Job
    from central.config import CentralConfig
    from central.metrics import MetricsHandle
    from central.service import CentralService
    from central.store import CentralStore
    from central.web.settings import WebSettings

_LOGGER = logging.getLogger(__name__)


def cmd_central(args: argparse.Namespace) -> int:
    setup_logging(args.log_level or "INFO")
    return run_async(_central(args))


def print_reading(payload: dict[str, Any]) -> None:
    values = payload.get("values", {})
    if payload.get("kind") == "blood_pressure":
        text = (
            f"BP {values.get('systolic_mmhg')}/{values.get('diastolic_mmhg')} mmHg "
            f"pulse {values.get('pulse_bpm')}"
        )
    else:
        glucose = values.get("glucose_mgdl")
        shown = "HI" if values.get("hi") else "LO" if values.get("lo") else f"{glucose} mg/dL"
        text = f"glucose {shown}"
    device = payload.get("device", {})
    print(
        f"central stored {payload.get('gateway_id')} {payload.get('measured_at')} "
        f"{device.get('model') or device.get('id')}: {text} "
        f"[{payload.get('time_quality')}] id={str(payload.get('id'))[:8]}",
        flush=True,
    )


async def _central(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from central.service import CentralService
    from central.store import CentralStore

    config: CentralConfig = args.central_config
    broker = config.broker_settings
    # Host and port only, and the database URL masked: either URL may carry a password.
    _LOGGER.info(
        "central: configuration %s, database %s, broker %s:%s as %s",
        config.source,
        make_url(config.database_url).render_as_string(hide_password=True),
        broker.host,
        broker.port,
        broker.client_id,
    )
    store = CentralStore(config.database_url)

    def on_stored(payloads: list[dict[str, Any]]) -> None:
        for payload in payloads:
            print_reading(payload)

    service = CentralService(store, broker, on_stored=on_stored if args.print else None)
    metrics: MetricsHandle | None = None
    try:
        if config.metrics is not None:
            from central.delivery_store import DeliveryStore
            from central.metrics import start_metrics_server

            deliveries = DeliveryStore(store.engine)
            listen = config.metrics

            def delivery_counts() -> dict[str, int]:
                return {state.value: n for state, n in deliveries.counts().items()}

            try:
                metrics = start_metrics_server(
                    service, host=listen.host, port=listen.port, delivery_counts=delivery_counts
                )
            except OSError as exc:
                return fail(
                    f"metrics.listen {listen.host}:{listen.port}: cannot listen ({exc.strerror}); "
                    "is another central or exporter on that port?"
                )
        web_sock: socket.socket | None = None
        if config.web is not None:
            try:
                web_sock = bind_listener(config.web.host, config.web.port)
            except OSError as exc:
                return fail(
                    f"web.listen {config.web.host}:{config.web.port}: cannot listen "
                    f"({exc.strerror}); is another central on that port?"
                )
        await _run_all(service, store, config, web_sock)
    finally:
        if metrics is not None:
            await asyncio.to_thread(metrics.close)
        store.close()
    return EXIT_OK


async def _run_all(
    service: CentralService,
    store: CentralStore,
    config: CentralConfig,
    web_sock: socket.socket | None,
) -> None:
    """The service, the fleet monitor and (when configured) SATUSEHAT delivery, ended together.

    One task group: a part that ends by a bug (each retries everything else itself) ends the
    others visibly instead of leaving central half-working. The staff web app is apart: losing
    the pages must not stop central storing readings.
    """
    import dataclasses
    import functools

    from central.fleet import FleetMonitor

    broker = config.broker_settings
    # Its own client id: the broker would drop one of two connections sharing one.
    fleet = FleetMonitor(
        store.engine, dataclasses.replace(broker, client_id=f"{broker.client_id}-fleet")
    )
    async with contextlib.AsyncExitStack() as stack, asyncio.TaskGroup() as group:
        if web_sock is not None and config.web is not None:
            upload = _upload_router(store, config)
            web = asyncio.create_task(
                serve_web(store.engine, config.web, web_sock, upload), name="central-web"
            )
            web.add_done_callback(_web_stopped)
            # Stopped after the group: a page being answered finishes.
            stack.push_async_callback(_stop, web)
            from central.background import keep_fresh

            counting = asyncio.create_task(
                keep_fresh(_page_jobs(store, config.web)), name="central-pages-fresh"
            )
            counting.add_done_callback(_counting_stopped)
            stack.push_async_callback(_stop, counting)
        group.create_task(service.run(), name="central-service")
        group.create_task(fleet.run(), name="central-fleet")
        if config.delivery is not None and config.fhir is not None:
            from central.delivery_store import DeliveryStore
            from central.fhir.bundle import entries_for
            from central.fhir.delivery import DeliveryWorker

            worker = DeliveryWorker(
                config.delivery,
                DeliveryStore(store.engine),
                functools.partial(entries_for, settings=config.fhir),
            )
            _LOGGER.info("central: delivering FHIR R4 Bundles to %s", config.delivery.base_url)
            stack.push_async_callback(worker.stop)
            group.create_task(_watch(worker.start()), name="central-delivery-watch")


async def _watch(task: asyncio.Task[None]) -> None:
    await asyncio.shield(task)
    raise RuntimeError("the FHIR delivery worker stopped")


def _web_stopped(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # The service goes on storing readings: losing the pages must not lose data.
        _LOGGER.error("central: the web app stopped: %s", type(task.exception()).__name__)


def _page_jobs(store: CentralStore, web: WebSettings) -> list[Job]:
    """The pages' refreshes, run in the background (central/background.py)."""
    import functools

    from central.cascade import refresh_facts
    from central.quality import QualityQueries
    from central.referrals import ReferralBook

    book = ReferralBook(store.engine, time.time, web.wilayah, web.referral_rules)
    return [
        ("cascade facts", functools.partial(refresh_facts, store.engine)),
        ("referrals", book.refresh),
        ("quality days", QualityQueries(store.engine).refresh),
    ]


def _counting_stopped(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # The pages still refresh on demand, only slower.
        _LOGGER.error("central: the pages' background refresh stopped: %r", task.exception())


def bind_listener(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a taken port is our error message, not uvicorn's
    exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _upload_router(store: CentralStore, config: CentralConfig) -> APIRouter | None:
    """POST /api/bundles for the kaders' phones, when [bundles] names central's keys."""
    from datetime import UTC, datetime

    from central.bundle_upload import make_router
    from gateway.cli.central.import_bundle import KeyProblem, central_keys

    section = config.bundles
    if not all((section.ca_file, section.cert_file, section.key_file, section.x25519_key_file)):
        _LOGGER.info("central: no bundle upload (/api/bundles): [bundles] keys not all set")
        return None
    try:
        keys = central_keys(section)
    except KeyProblem as exc:
        # The config check found the files; a key that does not load is said once, and the
        # pages and the service go on without the upload.
        _LOGGER.error("central: no bundle upload (/api/bundles): %s", exc)
        return None
    origins = config.web.upload_origins if config.web is not None else ()
    return make_router(store, keys, lambda: datetime.now(UTC), allowed_origins=origins)


async def serve_web(
    engine: Engine, settings: WebSettings, sock: socket.socket, upload: APIRouter | None = None
) -> None:
    """Central's staff web app under uvicorn, on the service's own event loop."""
    # Imported in a thread: reading FastAPI's and Jinja's modules from disk would stall the
    # loop the MQTT service already runs on.
    await asyncio.to_thread(importlib.import_module, "central.web.app")
    import uvicorn

    from central.web.app import create_app

    class _Server(uvicorn.Server):
        # The service owns SIGTERM/SIGINT (run_async cancels it; it stops this task).
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    app = create_app(engine, settings, time.time)
    if upload is not None:
        app.include_router(upload)
    server = _Server(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,  # query strings carry audit filters; pages log what matters
            ws="none",
            lifespan="off",
        )
    )
    host, port = sock.getsockname()[:2]
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="central-web-http")
    _LOGGER.info("central: web app on http://%s:%s", host, port)
    try:
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        raise
    finally:
        sock.close()


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The service's own options (those shared by every central command: options.py)."""
    p.add_argument(
        "--broker", help="broker URL, overrides broker.url (default mqtt://127.0.0.1:1883)"
    )
    p.add_argument(
        "--client-id",
        help="MQTT client id, unique per instance; overrides broker.client_id (default central-1)",
    )
    p.add_argument("--ca-file", help="CA certificate for mqtts://, overrides broker.ca_file")
    p.add_argument(
        "--cert-file", help="client certificate (CN=central), overrides broker.cert_file"
    )
    p.add_argument("--key-file", help="client key, overrides broker.key_file")
    p.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="serve Prometheus /metrics there (METRICS.md), overrides metrics.listen (default off)",
    )
    p.add_argument(
        "--web-listen",
        metavar="HOST:PORT",
        help="serve the staff web app there (accounts: `gempita central users`), "
        "overrides web.listen (default off)",
    )
    p.add_argument("--print", action="store_true", help="print each newly stored reading")
