"""The coincident timestamp goes to the FHIR server (the local stand-in for SATUSEHAT) with its
reading, as a conditional create: a second delivery of the same reading finds it instead of
making another. Real HTTP, the real mapping, both central backends."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from pathlib import Path

from central.fhir.bundle import entries_for
from central.fhir.resources import COINCIDENT_TIME_PROFILE
from central.store import CentralStore, Incoming
from core.payload import encode_reading, rfc3339
from core.reading import TimeQuality
from tests.fhir.helpers import SETTINGS, bp_reading
from tests.fhir_delivery.helpers import worker
from tests.support.fhir_server import FhirTestServer, fhir_server

__all__ = ["fhir_server"]


def _corrected() -> Incoming:
    reading = dataclasses.replace(
        bp_reading(time_quality=TimeQuality.DEVICE_CLOCK), clock_offset_s=-90.0
    )
    return Incoming(
        id=reading.id,
        gateway_id=reading.gateway_id,
        kind=reading.kind.value,
        measured_at=rfc3339(reading.measured_at),
        payload=encode_reading(reading).decode(),
    )


async def _deliver(server: FhirTestServer, url: str) -> int:
    # Opening migrates the schema: blocking work, kept off the event loop.
    store = await asyncio.to_thread(CentralStore, url)
    try:
        await asyncio.to_thread(store.store, [_corrected()])
        w = worker(server, store, functools.partial(entries_for, settings=SETTINGS))
        try:
            result = await w.deliver_once()
        finally:
            await w.stop()
        return result.accepted
    finally:
        await asyncio.to_thread(store.close)


async def test_it_is_delivered_once_however_often_its_reading_is_sent(
    fhir_server: FhirTestServer, central_db_url: str, tmp_path: Path
) -> None:
    assert await _deliver(fhir_server, central_db_url) == 1
    observations = fhir_server.resources["Observation"].values()
    coincident = [o for o in observations if o.get("meta", {}).get("profile")]
    assert len(coincident) == 1
    assert coincident[0]["meta"]["profile"] == [COINCIDENT_TIME_PROFILE]
    assert coincident[0]["valueDateTime"] == "2026-11-01T01:00:33.456Z"
    assert fhir_server.count("Observation") == 4
    created = fhir_server.created
    # Another central database (a second instance, a restored backup) sends it again.
    assert await _deliver(fhir_server, f"sqlite:///{tmp_path / 'again.db'}") == 1
    assert fhir_server.count("Observation") == 4
    assert fhir_server.created == created
    assert fhir_server.conditional_hits == 6  # two Devices and four Observations
