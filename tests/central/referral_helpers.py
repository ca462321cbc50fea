"""Screenings of residents as central stores them, for the referral worklist's tests."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta

from central.store import CentralStore, Incoming
from core.payload import encode_reading, rfc3339
from core.reading import BloodPressure, Glucose, Kind, Subject
from core.sealing import seal
from tests.support.harness import make_reading

# Readings from the worklist's tests start here; a day is one visit.
DAY_0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def pseudonym(resident: str) -> str:
    return hashlib.sha256(resident.encode()).hexdigest()


def screening(
    n: int,
    resident: str,
    *,
    bp: tuple[float, float] | None = None,
    glucose: float | None = None,
    fasting: bool = False,
    day: float = 0,
    site_id: str | None = "site-a1",
    gateway_id: str = "gw-001",
    nik: str | None = None,
    public_key: bytes | None = None,
) -> Incoming:
    """Reading `n`: one BP (systolic, diastolic) or glucose result of `resident`."""
    kind = Kind.BLOOD_PRESSURE if bp is not None else Kind.GLUCOSE
    base = make_reading(n, kind=kind, gateway_id=gateway_id)
    values: BloodPressure | Glucose = (
        BloodPressure(bp[0], bp[1], None, 72.0)
        if bp is not None
        else Glucose(glucose, meal="fasting" if fasting else "casual")
    )
    sealed = seal(nik, public_key) if nik is not None and public_key is not None else None
    reading = dataclasses.replace(
        base,
        values=values,
        site_id=site_id,
        measured_at=DAY_0 + timedelta(days=day, seconds=n),
        subject=Subject(pseudonym(resident), sealed_nik=sealed),
    )
    return Incoming(
        id=reading.id,
        gateway_id=reading.gateway_id,
        kind=reading.kind.value,
        measured_at=rfc3339(reading.measured_at),
        payload=encode_reading(reading).decode(),
    )


def store_all(url: str, batch: list[Incoming]) -> None:
    store = CentralStore(url)
    try:
        store.store(batch)
    finally:
        store.close()
