"""FleetMonitor against a real mosquitto and a real `gempita run` process.

The retained status fills the table when the monitor starts; a SIGKILL of the gateway (no
DISCONNECT) makes the broker publish its Last Will, and the row turns offline within seconds;
junk on a status topic is dead-lettered and the monitor carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from central.fleet import FleetMonitor
from central.fleet_views import FleetRow, fleet_list, gateway_detail
from central.store import CentralStore
from core.backoff import Backoff
from core.mqtt import BrokerSettings
from core.topics import topic_status
from tests.support.clock import FakeClock
from tests.support.harness import wait_for
from tests.support.mosquitto import Mosquitto
from tests.support.processes import gateway_process, write_gateway_config

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@contextlib.asynccontextmanager
async def running_monitor(
    broker_url: str, store: CentralStore, client_id: str = "fleet-test"
) -> AsyncIterator[FleetMonitor]:
    monitor = FleetMonitor(
        store.engine,
        # As `gempita central` would pass its own settings: the monitor drops the session.
        BrokerSettings(url=broker_url, client_id=client_id, session_expiry_s=3600),
        backoff=Backoff(initial_s=0.05, cap_s=0.5),
    )
    task = asyncio.create_task(monitor.run(), name="fleet-monitor")
    try:
        await wait_for(lambda: monitor.ready.is_set() or task.done(), 10, "monitor subscribed")
        if task.done():
            task.result()
        assert monitor.settings.session_expiry_s == 0
        yield monitor
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def rows(store: CentralStore) -> dict[str, FleetRow]:
    now = FakeClock()().timestamp()
    found = await asyncio.to_thread(fleet_list, store.engine, now)
    return {r.gateway_id: r for r in found}


async def state_of(store: CentralStore, gateway_id: str) -> str | None:
    row = (await rows(store)).get(gateway_id)
    return None if row is None else row.state


async def is_state(store: CentralStore, gateway_id: str, expected: str) -> bool:
    return await state_of(store, gateway_id) == expected


async def test_the_last_will_turns_a_killed_gateway_offline(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str
) -> None:
    store = await asyncio.to_thread(CentralStore, central_db_url)
    config = write_gateway_config(
        tmp_path / "gateway.toml", tmp_path / "gw", mosquitto.url, device_records=20, kind="kit"
    )
    gateway = gateway_process(config, tmp_path / "gateway.log").start()
    try:
        await asyncio.to_thread(gateway.wait_for_log, "connected to", 30)
        # Started after the gateway: only the retained status can tell them about gw-001.
        # Two instances on one table, as two central processes run: each change once.
        async with (
            running_monitor(mosquitto.url, store) as monitor,
            running_monitor(mosquitto.url, store, "fleet-test-2") as second,
        ):
            await wait_for(lambda: state_of(store, "gw-001"), 30, "the retained status stored")
            assert await state_of(store, "gw-001") == "online"

            async def device_listed() -> bool:
                row = (await rows(store))["gw-001"]
                return [d.name for d in row.devices] == ["bp-stream"]

            await wait_for(device_listed, 30, "the gateway's device in its row")
            row = (await rows(store))["gw-001"]
            assert row.site_id == "fault-test" and row.version
            assert row.kind == "kit"  # gateway.kind, carried by the retained status
            applied = (monitor.stats.applied, second.stats.applied)
            gateway.kill()  # SIGKILL: the broker, not the gateway, says it is gone
            await wait_for(
                lambda: is_state(store, "gw-001", "offline"), 30, "the Last Will applied"
            )
            await wait_for(
                lambda: monitor.stats.applied > applied[0] and second.stats.applied > applied[1],
                30,
                "both instances applied the will",
            )
            detail = await asyncio.to_thread(
                gateway_detail, store.engine, "gw-001", FakeClock()().timestamp()
            )
            assert detail is not None
            # Alarms aside: whether this machine's clock is synchronised (the gateway's clock
            # alarm) is the host's business, not this test's.
            changes = [e.kind for e in detail.timeline if e.kind != "alarm_raised"]
            assert changes == ["went_offline", "first_seen"]
            assert [a.code for a in detail.row.alarms][:1] == ["offline"]
            assert monitor.stats.junk == 0
    finally:
        gateway.kill()
        await asyncio.to_thread(store.close)


async def test_junk_statuses_are_dead_lettered_and_do_not_stop_the_monitor(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str
) -> None:
    store = await asyncio.to_thread(CentralStore, central_db_url)
    raw = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    raw.connect("127.0.0.1", mosquitto.port)
    raw.loop_start()
    junk = [b"not json", b"[" * 20_000, b'{"schema": "gempita.status/1"}', b"\xff" * 100]
    try:
        # One retained (delivered on subscribe), the rest live.
        raw.publish(topic_status("gw-junk-0"), junk[0], qos=1, retain=True).wait_for_publish(5)
        async with running_monitor(mosquitto.url, store) as monitor:
            for n, payload in enumerate(junk[1:], start=1):
                raw.publish(topic_status(f"gw-junk-{n}"), payload, qos=1).wait_for_publish(5)
            good = (
                b'{"schema": "gempita.status/1", "gateway_id": "gw-ok", "state": "online",'
                b' "at": 1795816417.1}'
            )
            raw.publish(topic_status("gw-ok"), good, qos=1).wait_for_publish(5)
            await wait_for(
                lambda: is_state(store, "gw-ok", "online"), 30, "a good status after junk"
            )
            # An empty status clears a retained message: neither junk nor a change to the row.
            raw.publish(topic_status("gw-ok"), b"", qos=1, retain=True).wait_for_publish(5)
            await wait_for(lambda: monitor.stats.cleared == 1, 30, "the clear seen")
            assert await is_state(store, "gw-ok", "online")
            assert monitor.stats.junk == len(junk)
            reasons = await asyncio.to_thread(store.dead_letter_reasons)
            assert len(reasons) == len(junk)
            assert all(r.startswith("status: ") for _t, r in reasons)
            assert set(await rows(store)) == {"gw-ok"}
    finally:
        raw.loop_stop()
        raw.disconnect()
        await asyncio.to_thread(store.close)
