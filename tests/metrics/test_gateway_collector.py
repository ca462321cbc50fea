"""The gateway's collector: families from a snapshot, a snapshot from a live outbox, config."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from gateway import __version__
from gateway.cli.compose import build_gateway
from gateway.config import parse_config
from gateway.errors import ConfigError
from gateway.metrics import DeviceFigures, GatewayCollector, Snapshot, families
from gateway.outbox_store import Counts
from gateway.publisher import PublisherState
from tests.core.test_config_cli import run_cli
from tests.metrics.helpers import Samples, parse, value
from tests.support.harness import gateway_config, make_reading
from tests.support.mosquitto import free_port


class _Fixed(Collector):
    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def collect(self) -> list[Metric]:
        return list(families(self._snap))


def exposed(snap: Snapshot) -> Samples:
    """The snapshot through prometheus_client's own text exposition and parser."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(snap))
    return parse(generate_latest(registry).decode())


def snapshot(counts: Counts | None, **publisher: object) -> Snapshot:
    return Snapshot(
        gateway_id="gw-042",
        publisher=PublisherState(**publisher),  # type: ignore[arg-type]
        devices=(
            DeviceFigures("bp-kiosk", "idle", sessions=7, errors=2, readings_stored=40,
                          records_resent=9),
            DeviceFigures("glucose-kiosk", "unavailable", sessions=3, errors=3,
                          readings_stored=0, records_resent=0),
        ),
        counts=counts,
        max_readings=500_000,
        alarms=("outbox_full", "storage_error: disk full"),
        at=1_000.0,
    )


def test_every_figure_of_a_snapshot_is_exposed_with_its_labels() -> None:
    counts = Counts(pending=11, published=4, confirmed=250, refused=3,
                    oldest_pending_created_at=880.0, last_error=None)
    s = exposed(snapshot(
        counts, connected=True, published_total=300, confirmed_total=250, resent_total=6,
        unheard_total=2, unknown_receipts=5, bad_receipts=1, connects=4,
        refusals_by_reason={"0x87 Not authorized": 3, "0x97 Quota exceeded": 1},
    ))
    assert value(s, "gempita_gateway_info", gateway_id="gw-042", version=__version__) == 1
    assert value(s, "gempita_gateway_outbox_counts_ok") == 1
    assert value(s, "gempita_gateway_outbox_readings", state="pending") == 11
    assert value(s, "gempita_gateway_outbox_readings", state="published") == 4
    assert value(s, "gempita_gateway_outbox_readings", state="confirmed") == 250
    assert value(s, "gempita_gateway_outbox_refused_readings") == 3
    assert value(s, "gempita_gateway_outbox_oldest_unconfirmed_age_seconds") == 120.0
    assert value(s, "gempita_gateway_outbox_max_readings") == 500_000
    assert value(s, "gempita_gateway_alarm", alarm="outbox_full") == 1
    assert value(s, "gempita_gateway_alarm", alarm="storage_error") == 1
    assert value(s, "gempita_gateway_readings_published_total") == 300
    assert value(s, "gempita_gateway_readings_confirmed_total") == 250
    assert value(s, "gempita_gateway_readings_resent_total") == 6
    assert value(s, "gempita_gateway_puback_no_subscriber_total") == 2
    assert value(s, "gempita_gateway_receipts_unknown_total") == 5
    assert value(s, "gempita_gateway_receipts_malformed_total") == 1
    assert value(s, "gempita_gateway_puback_errors_total", code="0x87",
                 reason="Not authorized") == 3
    assert value(s, "gempita_gateway_puback_errors_total", code="0x97",
                 reason="Quota exceeded") == 1
    assert value(s, "gempita_gateway_broker_connected") == 1
    assert value(s, "gempita_gateway_broker_reconnects_total") == 3
    assert value(s, "gempita_gateway_device_sessions_total", device="bp-kiosk") == 7
    assert value(s, "gempita_gateway_device_errors_total", device="bp-kiosk") == 2
    assert value(s, "gempita_gateway_device_errors_total", device="glucose-kiosk") == 3
    assert value(s, "gempita_gateway_device_readings_stored_total", device="bp-kiosk") == 40
    assert value(s, "gempita_gateway_device_records_resent_total", device="bp-kiosk") == 9
    assert value(s, "gempita_gateway_device_state", device="glucose-kiosk",
                 state="unavailable") == 1


def test_nothing_unconfirmed_is_age_zero_and_never_connected_is_no_reconnect() -> None:
    counts = Counts(0, 0, 12, 0, None, None)
    s = exposed(snapshot(counts))
    assert value(s, "gempita_gateway_outbox_oldest_unconfirmed_age_seconds") == 0
    assert value(s, "gempita_gateway_broker_reconnects_total") == 0
    assert value(s, "gempita_gateway_broker_connected") == 0
    assert not [k for k in s if k[0] == "gempita_gateway_puback_errors_total"]


def test_an_outbox_that_cannot_be_counted_is_said_and_the_rest_still_exposed() -> None:
    s = exposed(snapshot(None, published_total=8))
    assert value(s, "gempita_gateway_outbox_counts_ok") == 0
    assert not [k for k in s if k[0] == "gempita_gateway_outbox_readings"]
    assert value(s, "gempita_gateway_readings_published_total") == 8


async def test_collector_reads_the_live_outbox_from_the_scrape_thread(tmp_path: Path) -> None:
    # Not running: nothing publishes, so the states are exactly what this test set.
    config = gateway_config(tmp_path / "gw", f"mqtt://127.0.0.1:{free_port()}")
    gateway = build_gateway(config)
    clock = {"now": 0.0}
    collector = GatewayCollector(gateway, asyncio.get_running_loop(), clock=lambda: clock["now"])
    await gateway.outbox.open()
    try:
        readings = [make_reading(n) for n in range(6)]
        await gateway.outbox.commit(readings)
        rows = await gateway.outbox.fetch_pending(0, 10)
        await gateway.outbox.mark_published([r.seq for r in rows[:3]])
        await gateway.outbox.mark_confirmed([rows[0].id])
        counts = await gateway.outbox.counts()
        assert counts.oldest_pending_created_at is not None
        clock["now"] = counts.oldest_pending_created_at + 42.5
        gateway.status_file_error = "No space left on device"
        s = parse_families(await asyncio.to_thread(lambda: list(collector.collect())))
        assert value(s, "gempita_gateway_outbox_readings", state="pending") == 3
        assert value(s, "gempita_gateway_outbox_readings", state="published") == 2
        assert value(s, "gempita_gateway_outbox_readings", state="confirmed") == 1
        assert value(s, "gempita_gateway_outbox_oldest_unconfirmed_age_seconds") == 42.5
        assert value(s, "gempita_gateway_info", gateway_id="gw-001", version=__version__) == 1
        assert value(s, "gempita_gateway_alarm", alarm="status_file") == 1
        with pytest.raises(RuntimeError, match="off the gateway's loop"):
            collector.collect()
    finally:
        await gateway.outbox.close()
    s = parse_families(await asyncio.to_thread(lambda: list(collector.collect())))
    assert value(s, "gempita_gateway_outbox_counts_ok") == 0


def parse_families(metrics: list[Metric]) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in metrics
        for sample in metric.samples
    }


def test_metrics_are_off_by_default_and_listen_is_checked() -> None:
    assert parse_config({}).metrics.address is None
    assert parse_config({"metrics": {"listen": "127.0.0.1:9108"}}).metrics.address == (
        "127.0.0.1", 9108)
    assert parse_config({"metrics": {"listen": "[::1]:9108"}}).metrics.address == ("::1", 9108)
    for bad in ("9108", "127.0.0.1:", ":9108", "127.0.0.1:99999", "127.0.0.1:http", "host:0"):
        with pytest.raises(ConfigError, match=r"^metrics\.listen: .* is not host:port"):
            parse_config({"metrics": {"listen": bad}})
    with pytest.raises(ConfigError, match=r"metrics\.listen: expected a string"):
        parse_config({"metrics": {"listen": 9108}})
    with pytest.raises(ConfigError, match=r"metrics\.port: unknown key"):
        parse_config({"metrics": {"port": 9108}})


def test_a_bad_listen_address_stops_gempita_run_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(f"[gateway]\nstate_dir = '{tmp_path}'\n[metrics]\nlisten = 'localhost'\n")
    result = run_cli("run", "--config", str(path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("gempita: error: configuration: metrics.listen:")
    assert not (tmp_path / "outbox.db").exists()
