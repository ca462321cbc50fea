"""Receipts lost with a broker SIGKILL must not wait for the 10-minute resend timer (item 16).

Real mosquitto with persistence, killed mid-stream with readings published but not yet
confirmed: whatever central got, its receipts died with the broker. With resend_after_s set to
an hour, every reading must still be confirmed within seconds of the broker's return, and
stored at central exactly once (on SQLite and on PostgreSQL: `central_db_url`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from gateway.outbox_store import OutboxStore
from tests.core.test_delivery import all_confirmed, prefill, running_gateway
from tests.support.harness import gateway_config, running_central, wait_for
from tests.support.mosquitto import Mosquitto

READINGS = 6000
RESEND_AFTER_S = 3600.0
RECEIPT_TIMEOUT_S = 2.0


async def test_broker_sigkill_loses_receipts_and_the_readings_are_confirmed_promptly(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str
) -> None:
    config = gateway_config(
        tmp_path / "gw",
        mosquitto.url,
        mqtt={"window": 200, "receipt_timeout_s": RECEIPT_TIMEOUT_S},
        outbox={"resend_after_s": RESEND_AFTER_S},
    )
    ids = await prefill(config, READINGS)
    async with (
        running_central(mosquitto.url, central_db_url) as central,
        running_gateway(config, maintenance_interval_s=0.5) as gateway,
    ):
        await wait_for(
            lambda: gateway.publisher.state.published_total > 1500, 30, "the stream under way"
        )
        mosquitto.kill()
        # The kill landed with readings published and not confirmed: their receipts are gone.
        await asyncio.sleep(0.3)
        store = OutboxStore(config.outbox_path, exclusive=False)
        await asyncio.to_thread(store.open)  # a read-only look, off the loop
        try:
            at_kill = await asyncio.to_thread(store.counts)
        finally:
            await asyncio.to_thread(store.close)
        assert at_kill.published > 0, at_kill
        assert at_kill.confirmed < READINGS
        back = time.monotonic()
        mosquitto.start()
        await wait_for(lambda: all_confirmed(gateway, READINGS), 60, "all confirmed")
        took = time.monotonic() - back
        print(
            f"published-unconfirmed at the kill: {at_kill.published}; "
            f"all confirmed {took:.1f} s after the restart"
        )
        assert took < 60 < RESEND_AFTER_S
        assert gateway.publisher.state.resent_total >= 1
        assert central.store.ids() == ids
        assert central.store.count() == READINGS


async def test_receipts_that_stop_coming_without_a_reconnect_are_not_waited_for(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    # A consumer in central's share group takes readings and never sends a receipt (central
    # stored them, its receipts were lost). The gateway never reconnects, so only "no receipt
    # for receipt_timeout_s" can tell it; the real central then gets them all again.
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    swallowed: list[int] = []
    sink = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    sink.on_message = lambda _c, _u, _m: swallowed.append(1)
    sink.connect("127.0.0.1", mosquitto.port)
    sink.loop_start()
    sink.subscribe("$share/gempita-central/gempita/v1/+/readings", qos=1)
    config = gateway_config(
        tmp_path / "gw",
        mosquitto.url,
        mqtt={"receipt_timeout_s": RECEIPT_TIMEOUT_S},
        outbox={"resend_after_s": RESEND_AFTER_S},
    )
    ids = await prefill(config, 300)
    try:
        async with running_gateway(config) as gateway:
            await wait_for(lambda: len(swallowed) >= 300, 20, "all 300 swallowed")

            async def all_published() -> bool:
                return (await gateway.outbox.counts()).published == 300

            await wait_for(all_published, 10, "all 300 published, none confirmed")
            sink.loop_stop()
            sink.disconnect()
            async with running_central(mosquitto.url, tmp_path / "central.db") as central:
                started = time.monotonic()
                await wait_for(lambda: all_confirmed(gateway, 300), 30, "all confirmed")
                assert time.monotonic() - started < 30 < RESEND_AFTER_S
                assert gateway.publisher.state.connects == 1
                assert gateway.publisher.state.resent_total >= 300
                assert central.store.ids() == ids
    finally:
        sink.loop_stop()
