"""The gateway says whether its clock is disciplined, and central's fleet page alarms on it.

The kernel's answer is whatever this machine's NTP state is, so the end-to-end cases inject the
probe; the real adjtimex call is only held to its contract (a bool, or None where it cannot say).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from central.fleet_store import FleetStore, parse_status
from central.fleet_views import fleet_list
from central.store import CentralStore
from core.topics import topic_status
from gateway.cli.compose import build_gateway
from gateway.clock_trust import ClockProbe, kernel_clock_synced
from tests.support.harness import gateway_config


def test_the_kernel_answers_a_bool_or_cannot_say() -> None:
    assert kernel_clock_synced() in (True, False, None)


def alarms_at_central(tmp_path: Path, probe: ClockProbe) -> list[str]:
    config = gateway_config(tmp_path / "gw", "mqtt://127.0.0.1:9")
    gateway = build_gateway(config, clock_probe=probe)
    snapshot = gateway.status_snapshot()
    # What the publisher puts around the snapshot on the retained status topic.
    body = {"schema": "gempita.status/1", "gateway_id": "gw-001", "state": "online", "at": 10.0}
    payload = json.dumps({**body, **snapshot}).encode()
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        FleetStore(store.engine).apply(parse_status(topic_status("gw-001"), payload), 10.0)
        (row,) = fleet_list(store.engine, 11.0)
        return [a.code for a in row.alarms]
    finally:
        store.close()


@pytest.mark.parametrize(("probe", "alarmed"), [(False, True), (True, False), (None, False)])
def test_an_undisciplined_clock_is_an_alarm_on_the_fleet_page(
    tmp_path: Path, probe: bool | None, alarmed: bool
) -> None:
    codes = alarms_at_central(tmp_path, lambda: probe)
    assert ("clock_untrusted" in codes) is alarmed
