"""Bulk NDJSON export of stored readings (FHIR Bulk Data style), streamed from the store.

One file holds every resource type, one resource per line, each Device before the first
Observation that points at it and only once per export: the command writes one `--out` file,
and a reader can load it in one pass. (Bulk Data's own server export splits by type; a
consumer that wants that can split on `resourceType`.) Resources carry their deterministic id
and point at each other as `Device/<id>`, so lines are self-contained and a re-export gives
the same ids.

Rows are mapped without a second contract check (central checked each payload before storing
it); a row that cannot be mapped is still a typed, logged skip. Readings are read in keyset
pages ordered by id, so memory stays flat however many there are, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from central.fhir.errors import NoSubjectError, UnmappableReadingError
from central.fhir.resources import FhirResource, map_reading
from central.fhir.settings import FhirSettings
from central.records import StoredReading
from central.store import readings
from core.payload import rfc3339

_LOGGER = logging.getLogger(__name__)

DEFAULT_BATCH = 1000

Progress = Callable[[int, int], None]  # (readings done, readings to do)
Since = Literal["received_at", "measured_at"]


@dataclass(frozen=True, slots=True)
class ExportCounts:
    readings: int  # readings that gave resources
    observations: int
    devices: int
    control_solution: int  # QC records, never a resident's result: not exported
    unbound: int  # claimed by no session: no subject to name, not exported
    unmappable: int  # skipped, each logged with its reason

    @property
    def resources(self) -> int:
        return self.observations + self.devices


def _device_reference(resource: FhirResource) -> str:
    # Also an Observation: a measurement names its coincident timestamp (resources.py).
    return f"{resource.resource_type}/{resource.uuid}"


def _condition(since: datetime, by: Since) -> sa.ColumnElement[bool]:
    if by == "received_at":
        return readings.c.received_at >= since.timestamp()
    # measured_at is stored as the payload's RFC 3339 UTC text, which sorts as time does.
    return readings.c.measured_at >= rfc3339(since.astimezone(UTC))


def export_ndjson(
    engine: Engine,
    out: BinaryIO,
    settings: FhirSettings,
    since: datetime,
    *,
    by: Since = "received_at",
    batch: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> ExportCounts:
    """Write every reading with `by` >= `since` to `out` as NDJSON; returns what was written."""
    if since.tzinfo is None:
        raise ValueError("since must be an aware datetime (UTC or with an offset)")
    condition = _condition(since, by)
    with engine.connect() as conn:
        total = int(
            conn.execute(
                sa.select(sa.func.count()).select_from(readings).where(condition)
            ).scalar_one()
        )
    seen_devices: set[str] = set()
    done = exported = observations = devices = control = unbound = unmappable = 0
    last_id: str | None = None
    if progress is not None:
        progress(0, total)
    while True:
        query = sa.select(
            readings.c.id,
            readings.c.gateway_id,
            readings.c.kind,
            readings.c.measured_at,
            readings.c.received_at,
            readings.c.payload,
        ).where(condition)
        if last_id is not None:
            query = query.where(readings.c.id > last_id)
        with engine.connect() as conn:
            rows = conn.execute(query.order_by(readings.c.id).limit(batch)).all()
        if not rows:
            break
        lines: list[bytes] = []
        for row in rows:
            reading = StoredReading(
                id=row.id,
                gateway_id=row.gateway_id,
                kind=row.kind,
                measured_at=row.measured_at,
                received_at=row.received_at,
                payload=row.payload,
            )
            try:
                mapped = map_reading(
                    reading,
                    settings,
                    reference=_device_reference,
                    checked=True,
                    known_devices=seen_devices,
                )
            except NoSubjectError:
                unbound += 1
                continue
            except UnmappableReadingError as exc:
                unmappable += 1
                _LOGGER.warning("FHIR export skipped reading %s: %s", exc.reading_id, exc.reason)
                continue
            if not mapped:
                control += 1
                continue
            exported += 1
            for resource in mapped:
                is_device = resource.resource_type == "Device"
                if is_device:
                    if resource.uuid in seen_devices:
                        continue
                    seen_devices.add(resource.uuid)
                    devices += 1
                else:
                    observations += 1
                body = resource.resource  # made for this call alone: safe to add to
                body["id"] = resource.uuid
                lines.append(orjson.dumps(body))
        if lines:
            out.write(b"\n".join(lines) + b"\n")
        done += len(rows)
        last_id = rows[-1].id
        if progress is not None:
            progress(done, total)
    return ExportCounts(exported, observations, devices, control, unbound, unmappable)
