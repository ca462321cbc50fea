"""The PHD IG's coincident timestamp: when the gateway corrected a meter's clock, the meter's
reading of its own clock goes beside the gateway's, and each measurement links to it.
Golden resources, fhir.resources validation, conditional create, and the NDJSON export
through a real store."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from central.fhir.bundle import entries_for, transaction_bundle
from central.fhir.errors import UnmappableReadingError
from central.fhir.export import export_ndjson
from central.fhir.resources import (
    COINCIDENT_TIME_EXTENSION,
    GATEWAY_DEVICE_EXTENSION,
    map_reading,
    resource_uuid,
)
from central.store import CentralStore, Incoming
from core.payload import encode_reading, rfc3339
from core.reading import Reading, TimeQuality
from tests.fhir.helpers import PSEUDONYM, SETTINGS, bp_reading, glucose_reading, stored, validate

OBS_SYSTEM = "http://sys-ids.kemkes.go.id/observation/10000004"
PATIENT = {
    "type": "Patient",
    "identifier": {"system": "https://gempita.balikpapan.go.id/id/pseudonym", "value": PSEUDONYM},
}
METER_URN = "urn:uuid:" + resource_uuid("https://gempita.balikpapan.go.id/id/device", "omron:SN42")
GATEWAY_URN = "urn:uuid:" + resource_uuid("https://gempita.balikpapan.go.id/id/gateway", "kiosk-07")
COINCIDENT_URN = "urn:uuid:" + resource_uuid(OBS_SYSTEM, "r-bp-1-coincident-time")


def _corrected_bp(offset_s: float = -3605.25) -> Reading:
    """A BP reading whose meter ran an hour and a bit slow; the gateway moved its time."""
    return dataclasses.replace(
        bp_reading(time_quality=TimeQuality.DEVICE_CLOCK),
        clock_offset_s=offset_s,
        device_time="2026-11-01T08:01:58",
    )


def _entries(reading: Reading) -> list[dict[str, Any]]:
    entries = entries_for(stored(reading), SETTINGS)
    for entry in entries:
        validate(entry["resource"])
    validate(transaction_bundle(entries))
    return entries


def test_coincident_timestamp_golden() -> None:
    entries = _entries(_corrected_bp())
    kinds = [(e["request"]["url"], e["resource"].get("code", {}).get("coding")) for e in entries]
    assert [k for k, _ in kinds] == ["Device", "Device", "Observation", *["Observation"] * 3]
    assert entries[2] == {
        "fullUrl": COINCIDENT_URN,
        "request": {
            "method": "POST",
            "url": "Observation",
            "ifNoneExist": f"identifier={OBS_SYSTEM}|r-bp-1-coincident-time",
        },
        "resource": {
            "resourceType": "Observation",
            "meta": {
                "profile": [
                    "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdCoincidentTimeStampObservation"
                ]
            },
            "extension": [
                {"url": GATEWAY_DEVICE_EXTENSION, "valueReference": {"reference": GATEWAY_URN}}
            ],
            "identifier": [{"system": OBS_SYSTEM, "value": "r-bp-1-coincident-time"}],
            "status": "final",
            "code": {
                "coding": [
                    {
                        "system": "urn:iso:std:iso:11073:10101",
                        "code": "67975",
                        "display": "MDC_ATTR_TIME_ABS",
                    }
                ],
                "text": "MDC_ATTR_TIME_ABS: Absolute time",
            },
            "subject": PATIENT,
            "encounter": {"reference": "Encounter/enc-1"},
            # The gateway's timeline, and the meter's clock at that moment (an hour slow).
            "effectiveDateTime": "2026-11-01T01:02:03.456Z",
            "valueDateTime": "2026-11-01T00:01:58.206Z",
            "device": {"reference": METER_URN},
            "note": [{"text": "device clock showed 2026-11-01T08:01:58 (local time)"}],
        },
    }


def test_every_measurement_links_to_its_coincident_timestamp() -> None:
    measurements = [
        e["resource"]
        for e in _entries(_corrected_bp())
        if e["resource"]["resourceType"] == "Observation" and "derivedFrom" in e["resource"]
    ]
    assert [m["code"]["coding"][0]["code"] for m in measurements] == [
        "8480-6",
        "8462-4",
        "8867-4",
    ]
    for measurement in measurements:
        assert measurement["derivedFrom"] == [{"reference": COINCIDENT_URN}]
        assert {
            "url": COINCIDENT_TIME_EXTENSION,
            "valueReference": {"reference": COINCIDENT_URN},
        } in measurement["extension"]
        # The measurement keeps the corrected time, on the gateway's timeline.
        assert measurement["effectiveDateTime"] == "2026-11-01T01:02:03.456Z"


def test_glucose_and_the_panel_get_one_too() -> None:
    glucose = dataclasses.replace(glucose_reading(), clock_offset_s=42.0)
    resources = [r.resource for r in map_reading(stored(glucose), SETTINGS)]
    for resource in resources:
        validate(resource)
    coincident, measurement = resources[-2:]
    assert coincident["valueDateTime"] == "2026-11-02T03:04:47.000Z"
    assert "note" not in coincident  # no device_time text to quote
    assert measurement["derivedFrom"][0]["reference"].endswith(
        resource_uuid(OBS_SYSTEM, "r-glu-1-coincident-time")
    )
    panel = dataclasses.replace(SETTINGS, bp_profile="panel")
    mapped = map_reading(stored(_corrected_bp()), panel)
    assert [r.identifier_value for r in mapped if r.resource_type == "Observation"] == [
        "r-bp-1-coincident-time",
        "r-bp-1-bp",
        "r-bp-1-pulse",
    ]


@pytest.mark.parametrize(
    ("quality", "offset"),
    [
        (TimeQuality.SYNCED, 0.5),  # clock was right or set: nothing was moved
        (TimeQuality.GATEWAY_RECEIVE, -3600.0),  # the device time was not used at all
        (TimeQuality.UNKNOWN, None),
        (TimeQuality.DEVICE_CLOCK, None),  # no measured offset: nothing to put beside it
    ],
)
def test_no_coincident_timestamp_when_the_gateway_moved_nothing(
    quality: TimeQuality, offset: float | None
) -> None:
    reading = dataclasses.replace(bp_reading(time_quality=quality), clock_offset_s=offset)
    resources = [r.resource for r in map_reading(stored(reading), SETTINGS)]
    assert all(r.get("meta") is None for r in resources)
    assert all("derivedFrom" not in r for r in resources)
    assert all(
        e["url"] != COINCIDENT_TIME_EXTENSION for r in resources for e in r.get("extension", [])
    )


def test_a_re_send_names_the_same_coincident_timestamp() -> None:
    first = entries_for(stored(_corrected_bp()), SETTINGS)
    assert first == entries_for(stored(_corrected_bp()), SETTINGS)
    # Two readings: two coincident timestamps, never one shared (each is its own moment).
    other = dataclasses.replace(_corrected_bp(), id="r-bp-2")
    both = transaction_bundle(first + entries_for(stored(other), SETTINGS))
    validate(both)
    coincident = [
        e for e in both["entry"] if e["resource"].get("meta", {}).get("profile") is not None
    ]
    assert len(coincident) == 2


def test_an_offset_off_the_calendar_is_a_typed_error() -> None:
    with pytest.raises(UnmappableReadingError, match="clock_offset_s"):
        map_reading(stored(_corrected_bp(offset_s=1e15)), SETTINGS)


def test_the_export_writes_it_and_the_link_resolves(central_db_url: str) -> None:
    reading = _corrected_bp()
    store = CentralStore(central_db_url)
    try:
        store.store(
            [
                Incoming(
                    id=reading.id,
                    gateway_id=reading.gateway_id,
                    kind=reading.kind.value,
                    measured_at=rfc3339(reading.measured_at),
                    payload=encode_reading(reading).decode(),
                )
            ]
        )
        out = io.BytesIO()
        counts = export_ndjson(store.engine, out, SETTINGS, datetime(2000, 1, 1, tzinfo=UTC))
    finally:
        store.close()
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    written: set[str] = set()
    for resource in lines:
        validate(resource)
        for link in resource.get("derivedFrom", []):
            assert link["reference"] in written  # written before the measurements naming it
        written.add(f"{resource['resourceType']}/{resource['id']}")
    assert counts.observations == 4  # systolic, diastolic, pulse and the coincident timestamp
    assert sum("derivedFrom" in r for r in lines) == 3
