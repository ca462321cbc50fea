"""`gempita central` keeps the fleet table itself: a retained status and then the Last Will."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

from central.fleet_views import fleet_list
from tests.fleet.helpers import status, topic
from tests.support.harness import wait_for
from tests.support.mosquitto import Mosquitto
from tests.support.processes import GempitaProcess

pytestmark = [pytest.mark.broker, pytest.mark.slow]


async def test_the_central_command_follows_the_fleet(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str
) -> None:
    args = ["central", "--broker", mosquitto.url, "--db", central_db_url]
    central = GempitaProcess(args, tmp_path / "central.log").start()
    engine = sa.create_engine(central_db_url)
    gateway = paho.Client(CallbackAPIVersion.VERSION2, "gw-fleet-1", protocol=paho.MQTTv5)
    gateway.will_set(topic("gw-fleet-1"), status("gw-fleet-1", time.time(), "offline"), 1, True)
    try:
        await asyncio.to_thread(central.wait_for_log, "central subscribed")
        gateway.connect("127.0.0.1", mosquitto.port)
        gateway.loop_start()
        info = gateway.publish(topic("gw-fleet-1"), status("gw-fleet-1", time.time()), 1, True)
        await asyncio.to_thread(info.wait_for_publish, 5)

        def read_state() -> str | None:
            try:
                rows = fleet_list(engine, time.time())
            except sa.exc.OperationalError:
                return None  # central is still migrating the database
            return next((r.state for r in rows if r.gateway_id == "gw-fleet-1"), None)

        async def online() -> bool:
            return await asyncio.to_thread(read_state) == "online"

        async def offline() -> bool:
            return await asyncio.to_thread(read_state) == "offline"

        await wait_for(online, 30, "the gateway online in the fleet")
        # An abrupt end of the connection: the broker publishes the Last Will.
        gateway.loop_stop()
        sock = gateway.socket()
        assert sock is not None
        sock.close()
        await wait_for(offline, 30, "the Last Will seen by central")
    finally:
        engine.dispose()
        assert central.stop() == 0, central.text()
