"""`gempita run` serving /metrics: scraped over HTTP while it delivers, checked against the
outbox itself; and a broker refusal counted by reason on a real TLS + ACL mosquitto."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.pki import init_ca, issue
from gateway import __version__
from gateway.outbox_store import OutboxStore
from tests.core.test_delivery import prefill, running_gateway
from tests.metrics.helpers import Samples, scrape, value
from tests.support.harness import gateway_config, running_central, wait_for
from tests.support.mosquitto import Mosquitto, TlsFiles, free_port
from tests.support.processes import gateway_process, write_gateway_config

REPO = Path(__file__).resolve().parents[2]
RECORDS = 400


def refused_connection(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.broker
async def test_gempita_run_serves_metrics_that_match_its_outbox(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    state = tmp_path / "gw"
    port = free_port()
    # A second device on a serial port that is not there: its sessions fail, and say so.
    missing = f"""
[metrics]
listen = "127.0.0.1:{port}"

[[devices]]
name = "meter-unplugged"
transport = "serial"
protocol = "onetouch-ultra2"
port = "{tmp_path / 'no-such-tty'}"
options = {{ retry_initial_s = 0.1, retry_max_s = 0.3 }}
"""
    config = write_gateway_config(
        tmp_path / "gateway.toml", state, mosquitto.url, device_records=RECORDS, extra=missing
    )
    gateway = gateway_process(config, tmp_path / "gateway.log").start()
    store = OutboxStore(state / "outbox.db", exclusive=False)
    last: Samples = {}
    try:
        gateway.wait_for_log("metrics on http://127.0.0.1:", timeout=30)
        async with running_central(mosquitto.url, tmp_path / "central.db") as central:

            async def delivered() -> bool:
                nonlocal last
                last = await scrape(port)
                return (
                    value(last, "gempita_gateway_readings_confirmed_total") == RECORDS
                    and value(last, "gempita_gateway_outbox_readings", state="confirmed")
                    == RECORDS
                )

            await wait_for(delivered, 60, "every reading confirmed, as the metrics say")
            assert central.store.count() == RECORDS
        await asyncio.to_thread(store.open)
        counts = await asyncio.to_thread(store.counts)
        s = await scrape(port)
        assert value(s, "gempita_gateway_info", gateway_id="gw-001", version=__version__) == 1
        for state_name in ("pending", "published", "confirmed"):
            assert value(s, "gempita_gateway_outbox_readings", state=state_name) == getattr(
                counts, state_name
            )
        assert counts.confirmed == RECORDS
        assert value(s, "gempita_gateway_outbox_oldest_unconfirmed_age_seconds") == 0
        assert value(s, "gempita_gateway_readings_published_total") == RECORDS
        assert value(s, "gempita_gateway_broker_connected") == 1
        assert value(s, "gempita_gateway_broker_reconnects_total") == 0
        assert value(s, "gempita_gateway_device_readings_stored_total", device="bp-stream") == (
            RECORDS
        )
        assert value(s, "gempita_gateway_device_sessions_total", device="bp-stream") >= 1
        assert value(s, "gempita_gateway_device_errors_total", device="bp-stream") == 0
        unplugged_errors = value(
            s, "gempita_gateway_device_errors_total", device="meter-unplugged"
        )
        assert unplugged_errors >= 2
        assert value(s, "gempita_gateway_device_sessions_total", device="meter-unplugged") >= (
            unplugged_errors
        )
        assert value(s, "process_resident_memory_bytes") > 0
        assert gateway.stop() == 0
        # Stopped with the gateway: nothing listens on the port any more.
        assert refused_connection(port)
        assert "Traceback" not in gateway.text()
    finally:
        await asyncio.to_thread(store.close)
        gateway.stop()


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    init_ca(directory)
    issue(directory, "broker", server=True, hosts=("127.0.0.1", "localhost"))
    issue(directory, "gw-001")
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


@pytest.mark.broker
async def test_refusals_are_counted_by_reason(
    tmp_path: Path, pki: Path, tls_broker: Mosquitto
) -> None:
    port = free_port()
    # gw-001's certificate claiming gw-002's namespace: the ACL answers PUBACK 0x87.
    config = gateway_config(
        tmp_path / "gw",
        tls_broker.url,
        gateway={"id": "gw-002"},
        mqtt={
            "ca_file": str(pki / "ca.crt"),
            "cert_file": str(pki / "gw-001.crt"),
            "key_file": str(pki / "gw-001.key"),
            "error_retry_s": 30.0,
        },
        metrics={"listen": f"127.0.0.1:{port}"},
    )
    await prefill(config, 5)
    async with running_gateway(config):

        async def refused() -> bool:
            try:
                s = await scrape(port)
            except OSError:
                return False  # the endpoint is starting
            return value(s, "gempita_gateway_outbox_refused_readings") == 5 and (
                s.get(("gempita_gateway_puback_errors_total",
                       (("code", "0x87"), ("reason", "Not authorized")))) == 5
            )

        await wait_for(refused, 30, "five refusals, by reason")
        s = await scrape(port)
        assert value(s, "gempita_gateway_outbox_readings", state="pending") == 5
        assert value(s, "gempita_gateway_readings_published_total") == 0
    assert refused_connection(port)
