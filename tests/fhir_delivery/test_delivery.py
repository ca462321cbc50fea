"""The delivery worker against the local FHIR test server, over real HTTP, on both backends."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central.delivery_store import DeliveryState, DeliveryStore
from central.records import StoredReading
from central.store import CentralStore
from core.reading import Kind
from tests.fhir_delivery.entries import Entries
from tests.fhir_delivery.helpers import NIK, FakeClock, incoming, worker
from tests.support.fhir_server import FhirTestServer
from tests.support.harness import wait_for
from tests.support.mosquitto import free_port
from tests.support.processes import ROOT


@pytest.fixture
def store(central_db_url: str) -> Iterator[CentralStore]:
    s = CentralStore(central_db_url)
    try:
        yield s
    finally:
        s.close()


def _states(store: CentralStore, ids: list[str]) -> list[DeliveryState | None]:
    d = DeliveryStore(store.engine)
    return [None if (row := d.state(i)) is None else row.state for i in ids]


async def states(store: CentralStore, ids: list[str]) -> list[DeliveryState | None]:
    return await asyncio.to_thread(_states, store, ids)


async def test_readings_are_accepted_with_the_servers_ids(
    store: CentralStore, fhir_server: FhirTestServer
) -> None:
    batch = [incoming(1), incoming(2), incoming(3, kind=Kind.GLUCOSE)]
    await asyncio.to_thread(store.store, batch)
    w = worker(fhir_server, store)
    try:
        result = await w.deliver_once()
        assert (result.accepted, result.failed, result.retrying, result.posts) == (3, 0, 0, 1)
        d = DeliveryStore(store.engine)
        stored = fhir_server.resources["Observation"]
        for reading, n_obs in zip(batch, (2, 2, 1), strict=True):
            row = await asyncio.to_thread(d.state, reading.id)
            assert row is not None
            assert row.state is DeliveryState.ACCEPTED
            assert row.server_id is not None
            ids = row.server_id.split()
            assert len(ids) == n_obs
            for sid in ids:
                kind, _, rid = sid.partition("/")
                assert kind == "Observation"
                assert reading.id in stored[rid]["identifier"][0]["value"]
        assert fhir_server.created == 5
        assert (await w.deliver_once()).due == 0
        await asyncio.to_thread(store.store, [incoming(4)])
        assert (await w.deliver_once()).accepted == 1
        assert fhir_server.tokens_issued == 1  # cached between passes
        assert (await asyncio.to_thread(d.counts))[DeliveryState.ACCEPTED] == 4
    finally:
        await w.stop()


async def test_a_control_solution_record_is_skipped(
    store: CentralStore, fhir_server: FhirTestServer
) -> None:
    control, resident = incoming(1, kind=Kind.GLUCOSE, control=True), incoming(2)
    await asyncio.to_thread(store.store, [control, resident])
    w = worker(fhir_server, store)
    try:
        result = await w.deliver_once()
        assert (result.skipped, result.accepted) == (1, 1)
        assert await states(store, [control.id, resident.id]) == [
            DeliveryState.SKIPPED,
            DeliveryState.ACCEPTED,
        ]
        assert fhir_server.count("Observation") == 2  # the resident's BP only
        assert (await w.deliver_once()).due == 0
    finally:
        await w.stop()


async def test_a_refused_reading_fails_alone_and_the_rest_are_accepted(
    store: CentralStore, fhir_server: FhirTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    batch = [incoming(n) for n in range(1, 5)]
    await asyncio.to_thread(store.store, batch)
    entries = Entries()
    # The server's diagnostics echo the bad value: here one shaped like a NIK.
    entries.bad[batch[1].id] = NIK
    w = worker(fhir_server, store, entries)
    try:
        result = await w.deliver_once()
        assert (result.accepted, result.failed, result.retrying) == (3, 1, 0)
        assert await states(store, [r.id for r in batch]) == [
            DeliveryState.ACCEPTED,
            DeliveryState.FAILED,
            DeliveryState.ACCEPTED,
            DeliveryState.ACCEPTED,
        ]
        row = await asyncio.to_thread(DeliveryStore(store.engine).state, batch[1].id)
        assert row is not None
        assert row.reason is not None
        assert row.reason.startswith("HTTP 400")
        assert "effectiveDateTime" in row.reason
        assert NIK not in row.reason
        assert NIK not in caplog.text
        assert fhir_server.count("Observation") == 6
        # The whole Bundle, then one per reading.
        assert result.posts == 1 + 4
        assert (await w.deliver_once()).due == 0  # failed is final
    finally:
        await w.stop()


async def test_a_5xx_backs_off_and_the_readings_stay_queued_until_accepted(
    store: CentralStore, fhir_server: FhirTestServer
) -> None:
    batch = [incoming(1), incoming(2)]
    await asyncio.to_thread(store.store, batch)
    clock = FakeClock()
    w = worker(fhir_server, store, clock=clock)
    fhir_server.fail_next = [503, 502]
    d = DeliveryStore(store.engine)
    try:
        first = await w.deliver_once()
        assert (first.retrying, first.accepted, first.failed) == (2, 0, 0)
        assert first.error is not None
        assert "HTTP 503" in first.error
        assert first.retry_in_s is not None
        assert 1.0 <= first.retry_in_s <= 2.0  # around retry_initial_s
        row = await asyncio.to_thread(d.state, batch[0].id)
        assert row is not None
        assert (row.state, row.attempts) == (DeliveryState.QUEUED, 1)
        assert row.reason is not None
        assert "HTTP 503" in row.reason
        assert row.next_attempt_at == clock.now + first.retry_in_s
        assert (await w.deliver_once()).due == 0  # not due yet
        clock.now += first.retry_in_s
        second = await w.deliver_once()
        assert second.retrying == 2
        assert second.retry_in_s is not None
        assert second.retry_in_s >= first.retry_in_s
        row = await asyncio.to_thread(d.state, batch[0].id)
        assert row is not None
        assert row.attempts == 2
        clock.now += second.retry_in_s
        third = await w.deliver_once()
        assert third.accepted == 2
        assert await states(store, [r.id for r in batch]) == [DeliveryState.ACCEPTED] * 2
        row = await asyncio.to_thread(d.state, batch[0].id)
        assert row is not None
        assert row.attempts == 3
        assert row.reason is None
    finally:
        await w.stop()


async def test_run_sleeps_the_backoff_then_delivers(
    store: CentralStore, fhir_server: FhirTestServer
) -> None:
    await asyncio.to_thread(store.store, [incoming(1)])
    clock = FakeClock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds
        await asyncio.sleep(0.01)

    fhir_server.fail_next = [500]
    w = worker(fhir_server, store, clock=clock)
    w._sleep = sleep  # the worker's injected sleep, set after building with the helper
    task = w.start()
    assert task.get_name() == "fhir-delivery"
    try:
        async def accepted() -> bool:
            return await states(store, [incoming(1).id]) == [DeliveryState.ACCEPTED]

        await wait_for(accepted, what="accepted after one 500")
    finally:
        await w.stop()
    assert task.done()
    assert 1.0 <= slept[0] <= 2.0  # the backoff, then idle waits


async def test_a_wrong_secret_is_one_clear_error_and_nothing_fails(
    store: CentralStore, fhir_server: FhirTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    batch = [incoming(1), incoming(2)]
    await asyncio.to_thread(store.store, batch)
    clock = FakeClock()
    wrong = "wrong-secret-value"
    w = worker(fhir_server, store, clock=clock, client_secret=wrong)
    try:
        result = await w.deliver_once()
        assert result.error is not None
        assert "refused client id 'test-client'" in result.error
        assert "check the client id and secret" in result.error
        assert result.retry_in_s == 600.0  # retry_cap_s: slowly
        assert (result.failed, result.accepted, result.retrying) == (0, 0, 2)
        assert await states(store, [r.id for r in batch]) == [DeliveryState.QUEUED] * 2
        clock.now += 600.0
        assert (await w.deliver_once()).retrying == 2
        assert fhir_server.token_refusals == 2
        assert fhir_server.posts == 0
        held = [r for r in caplog.records if "held back" in r.getMessage()]
        assert len(held) == 1  # once per change of state, not per retry
        assert held[0].levelno == logging.ERROR
        assert wrong not in caplog.text
        d = DeliveryStore(store.engine)
        for r in batch:
            row = await asyncio.to_thread(d.state, r.id)
            assert row is not None
            assert row.reason is not None
            assert wrong not in row.reason
    finally:
        await w.stop()


async def test_an_expired_token_is_refreshed_once(
    store: CentralStore, fhir_server: FhirTestServer
) -> None:
    await asyncio.to_thread(store.store, [incoming(1)])
    w = worker(fhir_server, store)
    try:
        assert (await w.deliver_once()).accepted == 1
        fhir_server.expire_tokens()
        await asyncio.to_thread(store.store, [incoming(2)])
        result = await w.deliver_once()
        assert result.accepted == 1
        assert result.posts == 2  # refused with the old token, then sent with a new one
        assert fhir_server.tokens_issued == 2
        assert fhir_server.unauthorized == 1
    finally:
        await w.stop()


async def test_a_resend_after_the_worker_died_mid_post_does_not_double(
    store: CentralStore, fhir_server: FhirTestServer
) -> None:
    batch = [incoming(1), incoming(2)]
    await asyncio.to_thread(store.store, batch)
    # The server stores the Bundle, then holds its answer: the worker is stopped while it
    # waits, so central never records what the server took.
    fhir_server.delay_s = 3.0
    first = worker(fhir_server, store)
    first.start()
    try:
        assert await asyncio.to_thread(fhir_server.stored_event.wait, 30)
    finally:
        await first.stop()
    assert await states(store, [r.id for r in batch]) == [None, None]
    assert fhir_server.count("Observation") == 4
    ids_then = set(fhir_server.resources["Observation"])
    fhir_server.delay_s = 0.0
    second = worker(fhir_server, store)
    try:
        result = await second.deliver_once()
        assert result.accepted == 2
        assert fhir_server.count("Observation") == 4  # conditional create kept one each
        assert fhir_server.conditional_hits == 4
        d = DeliveryStore(store.engine)
        given = set()
        for r in batch:
            row = await asyncio.to_thread(d.state, r.id)
            assert row is not None
            assert row.server_id is not None
            given |= {sid.partition("/")[2] for sid in row.server_id.split()}
        assert given == ids_then
    finally:
        await second.stop()


async def test_an_unreachable_server_leaves_the_readings_queued(
    store: CentralStore, fhir_server: FhirTestServer
) -> None:
    await asyncio.to_thread(store.store, [incoming(1)])
    w = worker(fhir_server, store, base_url=f"http://127.0.0.1:{free_port()}/")
    try:
        result = await w.deliver_once()
        assert result.retrying == 1
        assert result.error is not None
        assert "no answer from the FHIR server" in result.error
        assert await states(store, [incoming(1).id]) == [DeliveryState.QUEUED]
    finally:
        await w.stop()


async def test_a_worker_killed_between_the_post_and_its_commit_does_not_double(
    store: CentralStore, fhir_server: FhirTestServer, central_db_url: str, tmp_path: Path
) -> None:
    batch = [incoming(1), incoming(2, kind=Kind.GLUCOSE)]
    await asyncio.to_thread(store.store, batch)
    # The server stores the Bundle and holds its answer; meanwhile the worker's process is
    # killed with SIGKILL, so central never records what the server took.
    fhir_server.delay_s = 30.0
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fhir_delivery.worker_main",
                central_db_url,
                fhir_server.base_url + "/",
                fhir_server.token_url,
                fhir_server.client_id,
                fhir_server.client_secret,
            ],
            stdout=out,
            stderr=out,
            cwd=ROOT,
        )
    try:
        stored = await asyncio.to_thread(fhir_server.stored_event.wait, 60)
        assert stored, log.read_text()
    finally:
        proc.kill()
        await asyncio.to_thread(proc.wait, 30)
    assert proc.returncode == -signal.SIGKILL
    assert await states(store, [r.id for r in batch]) == [None, None]
    assert fhir_server.count("Observation") == 3
    ids_then = set(fhir_server.resources["Observation"])
    fhir_server.delay_s = 0.0
    again = worker(fhir_server, store)
    try:
        result = await again.deliver_once()
    finally:
        await again.stop()
    assert result.accepted == 2
    assert fhir_server.count("Observation") == 3
    assert fhir_server.conditional_hits == 3
    d = DeliveryStore(store.engine)
    given: set[str] = set()
    for r in batch:
        row = await asyncio.to_thread(d.state, r.id)
        assert row is not None
        assert row.server_id is not None
        given |= {sid.partition("/")[2] for sid in row.server_id.split()}
    assert given == ids_then


async def test_a_reading_the_mapping_cannot_take_fails_and_the_rest_go(
    store: CentralStore, fhir_server: FhirTestServer
) -> None:
    batch = [incoming(1), incoming(2)]
    await asyncio.to_thread(store.store, batch)
    entries = Entries()

    def build(reading: StoredReading) -> list[dict[str, Any]]:
        if reading.id == batch[0].id:
            raise KeyError(f"subject {NIK}")
        return entries(reading)

    w = worker(fhir_server, store, build)
    try:
        result = await w.deliver_once()
    finally:
        await w.stop()
    assert (result.failed, result.accepted) == (1, 1)
    row = await asyncio.to_thread(DeliveryStore(store.engine).state, batch[0].id)
    assert row is not None
    assert row.state is DeliveryState.FAILED
    assert row.reason is not None
    assert row.reason.startswith("cannot be mapped to FHIR: KeyError")
    assert NIK not in row.reason


async def test_a_device_shared_by_readings_is_sent_once_per_bundle(
    store: CentralStore, fhir_server: FhirTestServer
) -> None:
    batch = [incoming(1), incoming(2)]
    await asyncio.to_thread(store.store, batch)
    entries = Entries()
    device = {
        "fullUrl": "urn:uuid:5b0f3a52-7c1e-4f7e-9a3d-2f6f0f1d9c01",
        "resource": {
            "resourceType": "Device",
            "identifier": [{"system": "urn:gempita:device", "value": "test:SN1"}],
            "manufacturer": "Test",
            "serialNumber": "SN1",
        },
        "request": {
            "method": "POST",
            "url": "Device",
            "ifNoneExist": "identifier=urn:gempita:device|test:SN1",
        },
    }

    def build(reading: StoredReading) -> list[dict[str, Any]]:
        return [device, *entries(reading)]

    w = worker(fhir_server, store, build)
    try:
        result = await w.deliver_once()
    finally:
        await w.stop()
    assert (result.accepted, result.posts) == (2, 1)
    assert fhir_server.count("Device") == 1
    (device_id,) = fhir_server.resources["Device"]
    d = DeliveryStore(store.engine)
    for r in batch:
        row = await asyncio.to_thread(d.state, r.id)
        assert row is not None
        assert row.server_id is not None
        ids = row.server_id.split()
        assert ids[0] == f"Device/{device_id}"
        assert [i.partition("/")[0] for i in ids[1:]] == ["Observation", "Observation"]
