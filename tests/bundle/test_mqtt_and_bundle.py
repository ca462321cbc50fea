"""A reading that went both ways -- on the stick, and over MQTT once the network came back --
is stored once at central, and the receipt that comes back later changes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from central.bundle_import import incoming
from central.service import CentralService, _Msg
from core.errors import PayloadError
from core.topics import topic_readings
from gateway.cli.compose import running_gateway
from gateway.outbox import reading_row
from tests.bundle.cli import central_args, central_ids, fill, gempita, states, write_config
from tests.bundle.keys import Keys
from tests.support.harness import gateway_config, make_reading, running_central, wait_for
from tests.support.mosquitto import Mosquitto


@pytest.mark.broker
@pytest.mark.slow
def test_same_reading_over_mqtt_and_bundle_is_stored_once(
    tmp_path: Path, pki: Keys, mosquitto: Mosquitto, central_db_url: str
) -> None:
    config = write_config(tmp_path, pki)
    ids = fill(config, range(10))
    stick = tmp_path / "stick"
    assert gempita("bundle", "export", stick, "-c", config).code == 0

    async def network_comes_back() -> None:
        over_mqtt = gateway_config(tmp_path / "state", mosquitto.url)
        async with (
            running_central(mosquitto.url, central_db_url),
            running_gateway(over_mqtt) as gateway,
        ):

            async def all_confirmed() -> bool:
                return (await gateway.outbox.counts()).confirmed == len(ids)

            await wait_for(all_confirmed, 60, "every reading confirmed over MQTT")

    asyncio.run(network_comes_back())
    assert central_ids(central_db_url) == set(ids)

    run = gempita("central", "import", stick, *central_args(pki, central_db_url))
    assert run.code == 0, run.err
    assert "imported: 0 new readings of 10 from 1 bundle(s) (10 already stored" in run.out
    assert central_ids(central_db_url) == set(ids)

    run = gempita("bundle", "confirm", stick, "-c", config)
    assert run.code == 0, run.err
    assert "confirmed: 0 readings from 1 receipt(s) (10 already" in run.out
    assert set(states(config, ids).values()) == {"confirmed"}


def _payloads() -> list[bytes]:
    good = reading_row(make_reading(1)).payload
    other = reading_row(make_reading(2, gateway_id="gw-002")).payload
    return [
        good,
        other,
        b"not json",
        b"{}",
        b'{"schema":"gempita.reading/1"}',
        good.replace(b'"id":"', b'"id":"\\u0000'),
        good.replace(b'"systolic_mmhg":121.0', b'"systolic_mmhg":"high"'),
        "\u00e9".encode("latin-1"),
    ]


@pytest.mark.parametrize("payload", _payloads())
def test_bundle_readings_meet_the_mqtt_checks(payload: bytes) -> None:
    """The bundle path mirrors central.service's checks: same verdict, same stored row."""

    def verdict(check: object) -> object:
        try:
            return check()  # type: ignore[operator]
        except PayloadError:
            return "refused"

    over_mqtt = verdict(
        lambda: CentralService._incoming(_Msg(topic_readings("gw-001"), payload, 0, 1))
    )
    in_bundle = verdict(lambda: incoming(payload, "gw-001"))
    assert over_mqtt == in_bundle
