"""Nothing is lost, nothing is doubled: the gateway against real mosquitto and central, while
the broker restarts, the network drops, or the broker is not there at start-up. The tests that
take `central_db_url` run on both of central's backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from core.payload import encode_reading
from gateway.cli.compose import build_gateway
from gateway.config import Config
from gateway.outbox import Outbox
from gateway.service import Gateway
from tests.support.harness import gateway_config, make_reading, running_central, wait_for
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.proxy import CuttableProxy


async def prefill(config: Config, count: int, start: int = 0) -> set[str]:
    readings = [make_reading(n) for n in range(start, start + count)]
    async with Outbox(config.outbox_path) as outbox:
        for i in range(0, count, 1000):
            await outbox.commit(readings[i : i + 1000])
    return {r.id for r in readings}


@asynccontextmanager
async def running_gateway(config: Config, **kwargs: float) -> AsyncIterator[Gateway]:
    gateway = build_gateway(
        config,
        maintenance_interval_s=kwargs.get("maintenance_interval_s", 0.5),
        status_file_interval_s=0.2,
    )
    task = asyncio.create_task(gateway.run(), name="gateway-under-test")
    try:
        await wait_for(lambda: gateway.ready.is_set() or task.done(), 10, "gateway ready")
        if task.done():
            task.result()
        gateway.task = task  # type: ignore[attr-defined]
        yield gateway
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def all_confirmed(gateway: Gateway, total: int) -> bool:
    task: asyncio.Task[None] = gateway.task  # type: ignore[attr-defined]
    if task.done():
        task.result()  # surface the gateway's own failure, not a symptom of it
    counts = await gateway.outbox.counts()
    return counts.confirmed == total and counts.unconfirmed == 0


async def test_broker_restart_mid_drain_loses_and_doubles_nothing(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str
) -> None:
    config = gateway_config(tmp_path / "gw", mosquitto.url, mqtt={"window": 200})
    ids = await prefill(config, 6000)
    async with (
        running_central(mosquitto.url, central_db_url) as central,
        running_gateway(config) as gateway,
    ):
        await wait_for(lambda: gateway.publisher.state.published_total > 500, 20, "drain started")
        mosquitto.restart()
        await wait_for(lambda: all_confirmed(gateway, 6000), 60, "all confirmed after restart")
        assert gateway.publisher.state.connects >= 2
        assert central.store.ids() == ids
        assert central.store.count() == 6000
        # Never re-stamped: central holds the very bytes committed before the outage.
        with central.store.engine.connect() as conn:
            stored = dict(conn.exec_driver_sql("SELECT id, payload FROM readings").all())
        for n in (0, 2999, 5999):
            reading = make_reading(n)
            assert stored[reading.id].encode() == encode_reading(reading)


async def test_network_cuts_mid_drain(tmp_path: Path, mosquitto: Mosquitto) -> None:
    proxy = CuttableProxy(mosquitto.port)
    await proxy.start()
    try:
        config = gateway_config(tmp_path / "gw", proxy.url, mqtt={"window": 100})
        ids = await prefill(config, 5000)
        async with (
            running_central(mosquitto.url, tmp_path / "central.db") as central,
            running_gateway(config) as gateway,
        ):
            for n in range(1, 4):
                await wait_for(
                    lambda n=n: gateway.publisher.state.published_total > n * 600,
                    20,
                    f"progress before cut {n}",
                )
                before = gateway.publisher.state.connects
                proxy.cut()
                # Back on before the next cut: two cuts in one outage would count one reconnect
                # (seen on a loaded machine).
                await wait_for(
                    lambda before=before: gateway.publisher.state.connects > before,
                    30,
                    f"reconnected after cut {n}",
                )
            await wait_for(lambda: all_confirmed(gateway, 5000), 60, "all confirmed after cuts")
            assert gateway.publisher.state.connects >= 4
            assert central.store.ids() == ids
    finally:
        await proxy.stop()


async def test_broker_unreachable_at_start_then_full_outbox_then_recovery(
    tmp_path: Path,
) -> None:
    port = free_port()
    broker = Mosquitto(tmp_path, port=port)
    config = gateway_config(
        tmp_path / "gw",
        broker.url,
        outbox={"max_readings": 40},
        devices=[
            {
                "name": "bp-1",
                "transport": "simulated",
                "kind": "blood_pressure",
                "options": {
                    "rate_per_s": 500,
                    "batch": 10,
                    "count": 60,
                    "retry_initial_s": 0.05,
                    "retry_max_s": 0.2,
                },
            }
        ],
    )
    async with running_gateway(config) as gateway:
        # No broker: readings are committed and wait, up to the configured limit.
        await wait_for(lambda: gateway.devices["bp-1"].last_error is not None, 10, "outbox full")
        assert "max_readings" in (gateway.devices["bp-1"].last_error or "")
        assert "outbox_full" in gateway.status_snapshot()["alarms"]
        assert not gateway.publisher.state.connected
        assert (await gateway.outbox.counts()).pending == 40
        status_file = tmp_path / "gw" / "status.json"
        await wait_for(
            lambda: "outbox_full" in json.loads(status_file.read_text())["alarms"], 5, "status"
        )
        status = json.loads(status_file.read_text())
        assert "cannot reach broker" in status["publisher"]["last_error"]
        assert status["outbox"]["pending"] == 40
        # The broker comes up: everything is delivered, room frees, the device resumes
        # from its cursor and the rest arrives too.
        broker.start()
        try:
            async with running_central(broker.url, tmp_path / "central.db") as central:
                await wait_for(lambda: all_confirmed(gateway, 60), 30, "all 60 confirmed")
                assert central.store.count() == 60
                assert "outbox_full" not in gateway.outbox.alarms.as_list()
        finally:
            broker.stop()


async def test_dead_letters_and_unknown_receipts_do_not_break_anything(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str
) -> None:
    config = gateway_config(tmp_path / "gw", mosquitto.url)
    ids = await prefill(config, 10)
    async with (
        running_central(mosquitto.url, central_db_url) as central,
        running_gateway(config) as gateway,
    ):
        await wait_for(lambda: all_confirmed(gateway, 10), 20, "first 10 confirmed")
        raw = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        raw.connect("127.0.0.1", mosquitto.port)
        raw.loop_start()
        try:
            from core.payload import encode_reading

            # Valid reading, but claiming another gateway's id: spoofing, kept aside.
            spoofed = encode_reading(make_reading(99, gateway_id="gw-002"))
            for payload in (b"not json", b'{"schema":"gempita.reading/1","id":"x"}', spoofed):
                raw.publish("gempita/v1/gw-001/readings", payload, qos=1).wait_for_publish(5)
            raw.publish(
                "gempita/v1/gw-001/receipts", json.dumps({"ids": ["unknown-1", "unknown-2"]}), qos=1
            ).wait_for_publish(5)
            await wait_for(lambda: central.stats.dead_letters == 3, 10, "3 dead letters")
            await wait_for(
                lambda: gateway.publisher.state.unknown_receipts >= 2, 10, "unknown receipts"
            )
        finally:
            raw.loop_stop()
            raw.disconnect()
        assert central.store.dead_letter_count() == 3
        # Central still works after the garbage.
        more = {make_reading(n).id for n in range(10, 15)}
        await gateway.outbox.commit([make_reading(n) for n in range(10, 15)])
        await wait_for(lambda: all_confirmed(gateway, 15), 20, "15 confirmed")
        assert central.store.ids() == ids | more


async def test_no_subscriber_means_not_delivered_and_sent_again(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    # Central is not subscribed yet: the broker answers PUBACK 0x10 (no matching subscribers)
    # and would drop the reading. It must stay pending and go again once central listens.
    config = gateway_config(tmp_path / "gw", mosquitto.url)
    ids = await prefill(config, 50)
    async with running_gateway(config) as gateway:
        await wait_for(lambda: gateway.publisher.state.unheard_total >= 50, 20, "0x10 PUBACKs")
        counts = await gateway.outbox.counts()
        assert (counts.pending, counts.published) == (50, 0)
        async with running_central(mosquitto.url, tmp_path / "central.db") as central:
            await wait_for(lambda: all_confirmed(gateway, 50), 30, "all confirmed")
            assert central.store.ids() == ids
