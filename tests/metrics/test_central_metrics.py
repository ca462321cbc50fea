"""Central's /metrics: families from hand-made figures, then a real central (mosquitto, store)
scraped over HTTP after a gateway's readings arrive, and its consumer lag while the store is
held up."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from central.metrics import ServiceFigures, StoreFigures, families, start_metrics_server
from core.payload import encode_reading
from core.topics import topic_readings
from tests.core.test_delivery import all_confirmed, prefill, running_gateway
from tests.metrics.helpers import Samples, parse, scrape, value
from tests.support.harness import gateway_config, make_reading, running_central, wait_for
from tests.support.mosquitto import Mosquitto

FIGURES = ServiceFigures(
    stored=120, duplicates=7, dead_letters=2, receipts_sent=127, subscribed=True,
    uncommitted=33, oldest_uncommitted_age_s=1.5,
)


class _Fixed(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> list[Metric]:
        return self._metrics


def exposed(metrics: list[Metric]) -> Samples:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(metrics))
    return parse(generate_latest(registry).decode())


def test_every_figure_is_exposed() -> None:
    s = exposed(list(families(FIGURES, StoreFigures(readings=400, dead_letters=5),
                              {"queued": 3, "accepted": 390, "failed": 1})))
    assert value(s, "gempita_central_readings_stored_total") == 120
    assert value(s, "gempita_central_readings_duplicate_total") == 7
    assert value(s, "gempita_central_dead_letters_total") == 2
    assert value(s, "gempita_central_receipt_ids_sent_total") == 127
    assert value(s, "gempita_central_subscribed") == 1
    assert value(s, "gempita_central_consumer_uncommitted_messages") == 33
    assert value(s, "gempita_central_consumer_oldest_uncommitted_age_seconds") == 1.5
    assert value(s, "gempita_central_store_ok") == 1
    assert value(s, "gempita_central_store_readings") == 400
    assert value(s, "gempita_central_store_dead_letters") == 5
    assert value(s, "gempita_central_fhir_delivery", state="queued") == 3
    assert value(s, "gempita_central_fhir_delivery", state="accepted") == 390
    assert value(s, "gempita_central_fhir_delivery", state="failed") == 1


def test_no_store_and_no_delivery_hook() -> None:
    s = exposed(list(families(FIGURES, None, None)))
    assert value(s, "gempita_central_store_ok") == 0
    assert not [k for k in s if k[0].startswith(("gempita_central_store_r",
                                                 "gempita_central_fhir"))]
    assert value(s, "gempita_central_consumer_uncommitted_messages") == 33


@pytest.mark.broker
async def test_central_metrics_after_readings_arrive(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str
) -> None:
    config = gateway_config(tmp_path / "gw", mosquitto.url)
    await prefill(config, 300)
    deliveries = {"queued": 300}
    async with running_central(mosquitto.url, central_db_url) as central:
        handle = start_metrics_server(
            central, host="127.0.0.1", port=0, delivery_counts=lambda: dict(deliveries)
        )
        try:
            async with running_gateway(config) as gateway:
                await wait_for(lambda: all_confirmed(gateway, 300), 30, "all confirmed")
            # Poison on a gateway's readings topic: a dead letter, and central goes on.
            raw = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
            raw.connect("127.0.0.1", mosquitto.port)
            raw.loop_start()
            try:
                await asyncio.to_thread(
                    raw.publish(topic_readings("gw-001"), b"not json", qos=1).wait_for_publish,
                    5,
                )
            finally:
                raw.loop_stop()
                raw.disconnect()
            await wait_for(lambda: central.stats.dead_letters == 1, 10, "the dead letter")
            deliveries.update(queued=290, accepted=10)
            s = await scrape(handle.port)
            stored = await asyncio.to_thread(central.store.count)
            assert stored == 300
            assert value(s, "gempita_central_store_readings") == stored
            assert value(s, "gempita_central_readings_stored_total") == 300
            assert value(s, "gempita_central_readings_duplicate_total") == (
                central.stats.duplicates
            )
            assert value(s, "gempita_central_receipt_ids_sent_total") >= 300
            assert value(s, "gempita_central_dead_letters_total") == 1
            assert value(s, "gempita_central_store_dead_letters") == 1
            assert value(s, "gempita_central_subscribed") == 1
            assert value(s, "gempita_central_consumer_uncommitted_messages") == 0
            assert value(s, "gempita_central_consumer_oldest_uncommitted_age_seconds") == 0
            assert value(s, "gempita_central_fhir_delivery", state="accepted") == 10
            assert value(s, "gempita_central_fhir_delivery", state="queued") == 290
        finally:
            await asyncio.to_thread(handle.close)


@pytest.mark.broker
async def test_consumer_lag_while_the_store_is_held_up(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    db = tmp_path / "central.db"
    async with running_central(mosquitto.url, db) as central:
        handle = start_metrics_server(central, host="127.0.0.1", port=0)
        # Another writer holds SQLite's write lock: central's insert waits (up to the
        # driver's busy timeout) with the batch received and not committed.
        locker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        raw = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        try:
            await asyncio.to_thread(locker.execute, "BEGIN IMMEDIATE")
            raw.connect("127.0.0.1", mosquitto.port)
            raw.loop_start()
            for n in range(20):
                raw.publish(topic_readings("gw-001"), encode_reading(make_reading(n)), qos=1)

            async def lagging() -> bool:
                s = await scrape(handle.port)
                return (
                    value(s, "gempita_central_consumer_uncommitted_messages") == 20
                    and value(s, "gempita_central_consumer_oldest_uncommitted_age_seconds") > 0.2
                )

            await wait_for(lagging, 4, "20 messages received and waiting for the store")
            s = await scrape(handle.port)
            assert value(s, "gempita_central_store_readings") == 0  # readers are not blocked
            assert value(s, "gempita_central_readings_stored_total") == 0
            await asyncio.to_thread(locker.execute, "COMMIT")

            async def caught_up() -> bool:
                s = await scrape(handle.port)
                return (
                    value(s, "gempita_central_readings_stored_total") == 20
                    and value(s, "gempita_central_consumer_uncommitted_messages") == 0
                )

            await wait_for(caught_up, 20, "the lag gone once the store answers")
        finally:
            await asyncio.to_thread(locker.close)
            raw.loop_stop()
            raw.disconnect()
            await asyncio.to_thread(handle.close)


@pytest.mark.broker
async def test_gempita_central_serves_metrics_from_its_config(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    from tests.support.mosquitto import free_port
    from tests.support.processes import GempitaProcess

    port = free_port()
    config = tmp_path / "central.toml"
    config.write_text(
        f'[broker]\nurl = "{mosquitto.url}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "central.db"}"\n'
        f'[metrics]\nlisten = "127.0.0.1:{port}"\n'
    )
    central = GempitaProcess(["central", "--config", str(config)], tmp_path / "central.log")
    central.start()
    try:
        await asyncio.to_thread(central.wait_for_log, "central subscribed")
        raw = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        raw.connect("127.0.0.1", mosquitto.port)
        raw.loop_start()
        try:
            for n in range(3):
                payload = encode_reading(make_reading(n, gateway_id="gw-001"))
                info = raw.publish(topic_readings("gw-001"), payload, qos=1)
                await asyncio.to_thread(info.wait_for_publish, 5)
        finally:
            raw.loop_stop()
            raw.disconnect()

        async def stored_three() -> bool:
            s = await scrape(port)
            return s.get(("gempita_central_readings_stored_total", ())) == 3

        await wait_for(stored_three, 20, "three readings counted on /metrics")
        s = await scrape(port)
        assert value(s, "gempita_central_store_readings") == 3
        assert value(s, "gempita_central_fhir_delivery", state="queued") == 3
    finally:
        assert central.stop() == 0, central.text()
