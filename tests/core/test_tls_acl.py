"""TLS with client certificates and the production ACL (broker/gempita.acl) on real mosquitto.

A gateway holding gw-001's certificate cannot publish into gw-002's namespace, even when it
calls itself gw-002: the broker answers PUBACK 0x87, the reading stays pending with the error
in `gempita status`, and the publisher does not retry it in a tight loop.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.pki import init_ca, issue
from tests.core.test_delivery import all_confirmed, prefill, running_gateway
from tests.support.harness import gateway_config, running_central, wait_for
from tests.support.mosquitto import Mosquitto, TlsFiles

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    init_ca(directory)
    issue(directory, "broker", server=True, hosts=("127.0.0.1", "localhost"))
    for name in ("gw-001", "gw-002", "central"):
        issue(directory, name)
    return directory


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Path) -> Iterator[Mosquitto]:
    workdir = tmp_path / "tls-broker"
    workdir.mkdir()
    broker = Mosquitto(
        workdir,
        tls=TlsFiles(pki / "ca.crt", pki / "broker.crt", pki / "broker.key"),
        acl=REPO / "broker" / "gempita.acl",
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def tls_mqtt(pki: Path, cert: str, **extra: object) -> dict[str, object]:
    return {
        "ca_file": str(pki / "ca.crt"),
        "cert_file": str(pki / f"{cert}.crt"),
        "key_file": str(pki / f"{cert}.key"),
        "error_retry_s": 30.0,
        **extra,
    }


async def test_own_namespace_is_delivered_over_tls(
    tmp_path: Path, pki: Path, tls_broker: Mosquitto, central_db_url: str
) -> None:
    config = gateway_config(tmp_path / "gw", tls_broker.url, mqtt=tls_mqtt(pki, "gw-001"))
    ids = await prefill(config, 200)
    async with (
        running_central(
            tls_broker.url,
            central_db_url,
            ca_file=str(pki / "ca.crt"),
            cert_file=str(pki / "central.crt"),
            key_file=str(pki / "central.key"),
        ) as central,
        running_gateway(config) as gateway,
    ):
        await wait_for(lambda: all_confirmed(gateway, 200), 30, "all confirmed over TLS")
        assert central.store.ids() == ids


async def test_foreign_namespace_is_refused_and_kept_pending(
    tmp_path: Path, pki: Path, tls_broker: Mosquitto
) -> None:
    state = tmp_path / "gw"
    # gw-001's certificate, but the gateway claims to be gw-002 (client id and topics).
    config = gateway_config(
        state, tls_broker.url, mqtt=tls_mqtt(pki, "gw-001"), gateway={"id": "gw-002"}
    )
    ids = await prefill(config, 5)
    assert config.gateway.id == "gw-002"
    async with running_gateway(config) as gateway:
        await wait_for(lambda: gateway.publisher.state.refused_total >= 5, 20, "refusals")
        # Refused readings wait error_retry_s (30 s here): no tight retry loop.
        await asyncio.sleep(1.5)
        assert gateway.publisher.state.refused_total == 5
        counts = await gateway.outbox.counts()
        assert (counts.pending, counts.published, counts.refused) == (5, 0, 5)
        assert "0x87" in (gateway.publisher.state.last_error or "")
        await asyncio.sleep(0.5)  # let the status file catch up
        config_file = tmp_path / "gw.toml"
        config_file.write_text(
            f'[gateway]\nid = "gw-002"\nstate_dir = "{state}"\n[mqtt]\nurl = "{tls_broker.url}"\n'
        )
        result = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "status", "--json", "--config", str(config_file)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        status = json.loads(result.stdout)
        assert status["outbox"]["pending"] == 5
        assert status["outbox"]["refused"] == 5
        assert "0x87" in status["outbox"]["last_error"]
        assert "0x87" in status["broker"]["last_error"]
        human = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "status", "--config", str(config_file)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"},
        )
        assert "refused by broker" in human.stdout
        assert "0x87" in human.stdout
    states = set((await _states(config, ids)).values())
    assert states == {"pending"}


async def _states(config: object, ids: set[str]) -> dict[str, str]:
    from gateway.outbox import Outbox

    async with Outbox(config.outbox_path) as outbox:  # type: ignore[attr-defined]
        return await outbox.states(sorted(ids))


async def test_client_without_certificate_is_turned_away(
    tmp_path: Path, tls_broker: Mosquitto, pki: Path
) -> None:
    config = gateway_config(tmp_path / "gw", tls_broker.url, mqtt={"ca_file": str(pki / "ca.crt")})
    await prefill(config, 3)
    async with running_gateway(config) as gateway:
        await wait_for(lambda: gateway.publisher.state.last_error is not None, 10, "an error")
        await asyncio.sleep(0.5)
        assert not gateway.publisher.state.connected
        assert (await gateway.outbox.counts()).pending == 3
