"""Central's store, its delivery table and a worker pointed at the local FHIR test server."""

from __future__ import annotations

import dataclasses
import random

from central.delivery_store import DeliveryStore
from central.fhir.delivery import DeliveryWorker, EntryBuilder
from central.fhir.settings import DeliverySettings
from central.store import CentralStore, Incoming
from core.backoff import Backoff
from core.payload import encode_reading
from core.reading import Glucose, Kind
from tests.fhir_delivery.entries import Entries
from tests.support.fhir_server import FhirTestServer
from tests.support.harness import make_reading

NIK = "6471054505900001"  # shaped like a Balikpapan NIK; must never be logged or stored


def incoming(n: int, *, kind: Kind = Kind.BLOOD_PRESSURE, control: bool = False) -> Incoming:
    reading = make_reading(n, kind=kind)
    if control:
        reading = dataclasses.replace(
            reading, values=Glucose(110.0, sample_type="control_solution", control_solution=True)
        )
    return Incoming(
        id=reading.id,
        gateway_id=reading.gateway_id,
        kind=reading.kind.value,
        measured_at=reading.measured_at.isoformat(),
        payload=encode_reading(reading).decode(),
    )


def settings(server: FhirTestServer, **changes: object) -> DeliverySettings:
    base = DeliverySettings(
        base_url=server.base_url + "/",
        token_url=server.token_url,
        client_id=server.client_id,
        client_secret=server.client_secret,
        batch_size=10,
        timeout_s=10.0,
        retry_initial_s=2.0,
        retry_cap_s=600.0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def worker(
    server: FhirTestServer,
    store: CentralStore,
    entries: EntryBuilder | None = None,
    clock: FakeClock | None = None,
    **changes: object,
) -> DeliveryWorker:
    s = settings(server, **changes)
    return DeliveryWorker(
        s,
        DeliveryStore(store.engine),
        entries or Entries(),
        clock=clock or FakeClock(),
        backoff=Backoff(s.retry_initial_s, s.retry_cap_s, rng=random.Random(7)),
    )
