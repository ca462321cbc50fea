"""FleetMonitor: keeps central's fleet table from every gateway's retained status and Last Will.

Each central instance runs its own monitor with a plain (not shared) subscription to
`gempita/v1/+/status`, so each sees every gateway; the broker hands over the retained statuses
on subscribe, which fills the table at start. The writes are idempotent (fleet_store.py), so
several instances keeping the same table is safe.

A status we cannot use is counted, kept as a dead letter (topic, reason, first bytes) and
logged at most once a minute; it never stops the monitor. The database is written from one
worker thread, never from the event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from central.fleet_rules import DEFAULT_THRESHOLDS, Thresholds
from central.fleet_store import FleetStatusError, FleetStore, parse_status
from central.store import dead_letters
from core.backoff import Backoff
from core.errors import PublishError
from core.mqtt import BrokerSettings, MqttConnection
from core.topics import PREFIX

_LOGGER = logging.getLogger(__name__)

STATUS_FILTER = f"{PREFIX}/+/status"
JUNK_LOG_EVERY_S = 60.0
DEAD_LETTER_KEEP_BYTES = 65536


@dataclass(slots=True)
class FleetStats:
    applied: int = 0
    state_changes: int = 0
    events: int = 0
    junk: int = 0
    cleared: int = 0  # empty status messages: a retained status cleared by an operator
    db_errors: int = 0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FleetMonitor:
    def __init__(
        self,
        engine: Engine,
        broker_settings: BrokerSettings,
        *,
        clock: Callable[[], datetime] = _utc_now,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        backoff: Backoff | None = None,
    ) -> None:
        self.store = FleetStore(engine, thresholds)
        self.engine = engine
        # No persistent session: the retained statuses refill the table on every connect, and
        # a kept session would have the broker queue statuses for an instance that is gone.
        # The client id must not be the CentralService's own (the broker would drop one).
        self.settings = dataclasses.replace(broker_settings, session_expiry_s=0)
        self.clock = clock
        self.backoff = backoff or Backoff(initial_s=0.5, cap_s=30.0)
        self.stats = FleetStats()
        self.ready = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="central-fleet")
        self._junk_logged_at = -JUNK_LOG_EVERY_S
        self._junk_unlogged = 0

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self._session()
                except PublishError as exc:
                    _LOGGER.warning("fleet monitor: %s", exc)
                self.ready.clear()
                await asyncio.sleep(self.backoff.next_delay())
        finally:
            self._executor.shutdown(wait=True)

    async def _session(self) -> None:
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

        def on_message(msg: paho.MQTTMessage) -> None:
            queue.put_nowait((msg.topic, bytes(msg.payload)))

        # Auto-ack: a status is a snapshot, the next one (or the retained copy on reconnect)
        # replaces it, so nothing is lost by acknowledging before the write.
        conn = MqttConnection(self.settings, on_message=on_message)
        try:
            await conn.connect()
            conn.subscribe(STATUS_FILTER, qos=1)
            self.backoff.reset()
            self.ready.set()
            _LOGGER.info("fleet monitor subscribed to %s on %s", STATUS_FILTER, self.settings.url)
            worker = asyncio.create_task(self._apply_loop(queue), name="fleet-apply")
            try:
                waiters: list[asyncio.Future[Any]] = [worker, conn.closed]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)
            raise PublishError(conn.closed.result() if conn.closed.done() else "monitor ended")
        finally:
            await conn.close()

    async def _apply_loop(self, queue: asyncio.Queue[tuple[str, bytes]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            topic, payload = await queue.get()
            now = self.clock().timestamp()
            if not payload:
                # MQTT's way to clear a retained message (a gateway retired, a test topic
                # tidied): nothing to learn and nothing wrong, so the fleet row stays as it was.
                self.stats.cleared += 1
                _LOGGER.info("fleet monitor: the retained status on %s was cleared", topic)
                continue
            try:
                status = parse_status(topic, payload)
            except FleetStatusError as exc:
                self._junk(topic, exc)
                await loop.run_in_executor(self._executor, self._dead_letter, topic, payload, exc)
                continue
            try:
                applied = await loop.run_in_executor(self._executor, self.store.apply, status, now)
            except sa.exc.SQLAlchemyError as exc:
                # The next status of this gateway (every status_interval_s) carries the same
                # facts, so dropping this one costs a few seconds, not data.
                self.stats.db_errors += 1
                _LOGGER.error(
                    "fleet status of %s not stored: %s", status.gateway_id, type(exc).__name__
                )
                continue
            self.stats.applied += 1
            self.stats.events += applied.events
            if applied.changed_state:
                self.stats.state_changes += 1
                _LOGGER.info("gateway %s is %s", status.gateway_id, status.state)

    def _junk(self, topic: str, exc: FleetStatusError) -> None:
        self.stats.junk += 1
        self._junk_unlogged += 1
        now = time.monotonic()
        if now - self._junk_logged_at >= JUNK_LOG_EVERY_S:
            self._junk_logged_at = now
            # The reason names the field and rule only; the payload itself is never logged.
            _LOGGER.warning(
                "fleet monitor: %d unusable status message(s) kept as dead letters "
                "(latest on %s: %s)",
                self._junk_unlogged,
                topic,
                exc,
            )
            self._junk_unlogged = 0

    def _dead_letter(self, topic: str, payload: bytes, exc: FleetStatusError) -> None:
        """In the worker thread: keep the message for a person to look at."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    dead_letters.insert(),
                    {
                        "topic": topic[:300],
                        "payload": payload[:DEAD_LETTER_KEEP_BYTES],
                        "reason": f"status: {exc}"[:500],
                        "received_at": time.time(),
                    },
                )
        except sa.exc.SQLAlchemyError as db_exc:
            # Counted here, read on the loop: one writer thread, so no lost update.
            self.stats.db_errors += 1
            _LOGGER.error("fleet dead letter not stored: %s", type(db_exc).__name__)
