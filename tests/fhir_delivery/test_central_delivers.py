"""`gempita central` with [fhir.delivery]: a reading arriving over MQTT is stored, delivered to
the FHIR server (the local stand-in for SATUSEHAT) and its hops shown by `central status`."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.payload import encode_reading
from core.topics import topic_readings
from tests.fhir.helpers import bp_reading
from tests.support.fhir_server import FhirTestServer
from tests.support.harness import wait_for
from tests.support.mosquitto import Mosquitto
from tests.support.processes import GempitaProcess

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _config(tmp: Path, broker: str, db: str, server: FhirTestServer) -> Path:
    (tmp / "client_id").write_text(server.client_id + "\n")
    (tmp / "client_secret").write_text(server.client_secret + "\n")
    path = tmp / "central.toml"
    path.write_text(
        f'[broker]\nurl = "{broker}"\n'
        f'[database]\nurl = "{db}"\n'
        '[fhir]\norganization_id = "10000004"\nencounter_id = "enc-1"\n'
        f'[fhir.delivery]\nbase_url = "{server.base_url}"\ntoken_url = "{server.token_url}"\n'
        'client_id_file = "client_id"\nclient_secret_file = "client_secret"\n'
        "retry_initial_s = 0.2\nretry_cap_s = 1.0\n"
    )
    return path


async def test_a_reading_goes_from_mqtt_to_the_fhir_server(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str, fhir_server: FhirTestServer
) -> None:
    config = _config(tmp_path, mosquitto.url, central_db_url, fhir_server)
    central = GempitaProcess(["central", "--config", str(config)], tmp_path / "central.log")
    central.start()
    readings = [dataclasses.replace(bp_reading(), id=f"r-bp-{n}") for n in range(3)]
    try:
        await asyncio.to_thread(central.wait_for_log, "central subscribed")
        raw = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        raw.connect("127.0.0.1", mosquitto.port)
        raw.loop_start()
        try:
            for reading in readings:
                info = raw.publish(topic_readings(reading.gateway_id), encode_reading(reading), 1)
                await asyncio.to_thread(info.wait_for_publish, 5)
        finally:
            raw.loop_stop()
            raw.disconnect()
        # Systolic, diastolic and pulse for each of the three.
        await wait_for(lambda: fhir_server.count("Observation") == 9, 60, "9 Observations")
        assert fhir_server.count("Device") == 2  # the meter and the gateway, once each

        def status(*extra: str) -> dict[str, object]:
            argv = [sys.executable, "-m", "gateway.cli", "central", "--config", str(config)]
            done = subprocess.run(
                [*argv, "status", "--json", *extra],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            result: dict[str, object] = json.loads(done.stdout)
            return result

        async def accepted() -> bool:
            counts = (await asyncio.to_thread(status))["counts"]
            assert isinstance(counts, dict)
            return bool(counts["satusehat"]["accepted"] == 3)

        await wait_for(accepted, 30, "three readings accepted")
        one = (await asyncio.to_thread(status, "--id", "r-bp-1"))["reading"]
        assert isinstance(one, dict)
        assert one["satusehat"]["state"] == "accepted"
        assert "Observation/" in one["satusehat"]["server_id"]
    finally:
        assert central.stop() == 0, central.text()
    assert "client_secret" not in central.text().replace("client_secret_file", "")
    assert fhir_server.client_secret not in central.text()
