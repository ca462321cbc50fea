"""A database that refuses writes (disk full, read-only) makes central stop acking, never drop.

Real mosquitto and a real gateway; the store is central's SQLite store told to refuse, as a
full disk or a read-only remount makes SQLite refuse (the same OperationalError SQLAlchemy
raises then).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sqlalchemy.exc

from central.service import CentralService
from central.store import CentralStore, Incoming
from core.backoff import Backoff
from core.mqtt import BrokerSettings
from tests.core.test_delivery import all_confirmed, prefill, running_gateway
from tests.support.harness import gateway_config, wait_for
from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.broker]

READINGS = 300


class RefusingStore(CentralStore):
    """Central's store, refusing every write while `refusing` is set."""

    refusing = True
    attempts = 0

    def store(self, batch: Sequence[Incoming]) -> list[str]:
        self.attempts += 1
        if self.refusing:
            raise sqlalchemy.exc.OperationalError(
                "INSERT INTO readings ...",
                {"payload": "kept out of logs"},
                Exception("database or disk is full"),
            )
        return super().store(batch)


@asynccontextmanager
async def central(broker_url: str, store: CentralStore) -> AsyncIterator[CentralService]:
    service = CentralService(
        store,
        BrokerSettings(url=broker_url, client_id="central-test", session_expiry_s=3600),
        backoff=Backoff(initial_s=0.05, cap_s=0.5),
        store_backoff=Backoff(initial_s=0.05, cap_s=0.2),
    )
    task = asyncio.create_task(service.run(), name="central")
    try:
        await wait_for(lambda: service.ready.is_set() or task.done(), 10, "central ready")
        yield service
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_refused_writes_are_retried_unacked_and_stored_once_accepted(
    tmp_path: Path, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    config = gateway_config(
        tmp_path / "gw",
        mosquitto.url,
        mqtt={"receipt_timeout_s": 3600.0},
        outbox={"resend_after_s": 3600.0},
    )
    ids = await prefill(config, READINGS)
    store = await asyncio.to_thread(RefusingStore, f"sqlite:///{tmp_path / 'central.db'}")
    try:
        async with central(mosquitto.url, store) as service, running_gateway(config) as gateway:
            await wait_for(lambda: service.stats.store_retries >= 5, 20, "several refusals")
            assert (await gateway.outbox.counts()).confirmed == 0
            assert service.stats.receipts_sent == 0
            store.refusing = False
            await wait_for(lambda: all_confirmed(gateway, READINGS), 20, "all confirmed")
            assert store.ids() == ids
            assert service.stats.store_outages == 1
        errors = [r for r in caplog.records if "refuses writes" in r.getMessage()]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        assert errors[0].levelno == logging.ERROR
        # The reason, without the statement or its parameters.
        assert "database or disk is full" in errors[0].getMessage()
        assert "kept out of logs" not in caplog.text
        assert "INSERT" not in caplog.text
    finally:
        await asyncio.to_thread(store.close)


async def test_readings_refused_by_the_store_wait_at_the_broker_for_the_next_central(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    # Central ends while its database still refuses: nothing was acknowledged, so the broker
    # holds every reading in central's session and the next central stores them all.
    config = gateway_config(
        tmp_path / "gw",
        mosquitto.url,
        mqtt={"receipt_timeout_s": 3600.0},
        outbox={"resend_after_s": 3600.0},
    )
    ids = await prefill(config, READINGS)
    db = f"sqlite:///{tmp_path / 'central.db'}"
    refusing = await asyncio.to_thread(RefusingStore, db)
    working = await asyncio.to_thread(CentralStore, db)
    try:
        async with running_gateway(config) as gateway:
            async with central(mosquitto.url, refusing) as service:
                await wait_for(lambda: service.stats.store_retries >= 3, 20, "refusals")
                await wait_for(
                    lambda: gateway.publisher.state.published_total == READINGS,
                    20,
                    "all published to the broker",
                )
            assert working.count() == 0
            async with central(mosquitto.url, working):
                await wait_for(lambda: all_confirmed(gateway, READINGS), 20, "all confirmed")
            assert working.ids() == ids
            assert gateway.publisher.state.resent_total == 0
    finally:
        await asyncio.to_thread(refusing.close)
        await asyncio.to_thread(working.close)
