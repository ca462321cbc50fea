"""Readings as central stores them, and FHIR validation with fhir.resources' R4B models."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from central.fhir.settings import FhirSettings
from central.records import StoredReading
from core.payload import encode_reading, rfc3339
from core.reading import (
    BloodPressure,
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    Subject,
    TimeQuality,
    Transport,
)

PSEUDONYM = "ab" * 32
SETTINGS = FhirSettings(organization_id="10000004", location_id="loc-1", encounter_id="enc-1")
METER = DeviceIdentity(Transport.BLE, "AA:BB:CC:DD:EE:FF", "Omron", "HEM-7155T", "SN42", "1.2")


def bp_reading(
    *,
    status: frozenset[str] = frozenset(),
    pulse: float | None = 72.0,
    time_quality: TimeQuality = TimeQuality.SYNCED,
    subject: Subject | None = Subject(PSEUDONYM),  # noqa: B008 (frozen: safe to share)
    device: DeviceIdentity = METER,
) -> Reading:
    return Reading(
        id="r-bp-1",
        kind=Kind.BLOOD_PRESSURE,
        gateway_id="kiosk-07",
        device=device,
        record_key="17",
        measured_at=datetime(2026, 11, 1, 1, 2, 3, 456000, tzinfo=UTC),
        time_quality=time_quality,
        values=BloodPressure(142.0, 91.0, 108.0, pulse, status=status),
        subject=subject,
        bound=subject is not None,
    )


def glucose_reading(**values: Any) -> Reading:
    glucose = dataclasses.replace(Glucose(123.0, sample_type="capillary_whole_blood"), **values)
    return Reading(
        id="r-glu-1",
        kind=Kind.GLUCOSE,
        gateway_id="kit-03",
        device=DeviceIdentity(Transport.SERIAL, "/dev/ttyUSB0", "Ascensia", "Contour", None, None),
        record_key="5",
        measured_at=datetime(2026, 11, 2, 3, 4, 5, tzinfo=UTC),
        time_quality=TimeQuality.DEVICE_CLOCK,
        values=glucose,
        subject=Subject(PSEUDONYM, performer="kader:siti"),
        bound=True,
    )


def stored(reading: Reading, received_at: float = 1_790_000_000.0) -> StoredReading:
    return StoredReading(
        id=reading.id,
        gateway_id=reading.gateway_id,
        kind=reading.kind.value,
        measured_at=rfc3339(reading.measured_at),
        received_at=received_at,
        payload=encode_reading(reading).decode(),
    )


# fhir.resources checks structure, types, cardinality and the choice rules, but not the codes
# of required bindings nor Observation's invariants: those used here are checked below.
_REQUIRED_CODES = {
    ("Observation", "status"): {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    },
    ("Device", "status"): {"active", "inactive", "entered-in-error", "unknown"},
    ("Bundle", "type"): {
        "document",
        "message",
        "transaction",
        "transaction-response",
        "batch",
        "batch-response",
        "history",
        "searchset",
        "collection",
    },
}
_DEVICE_NAME_TYPES = {
    "udi-label-name",
    "user-friendly-name",
    "patient-reported-name",
    "manufacturer-name",
    "model-name",
    "other",
}
_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}
_VALUES = (
    "valueQuantity",
    "valueString",
    "valueCodeableConcept",
    "valueBoolean",
    "valueInteger",
    "valueDateTime",
)


def _check_bindings_and_invariants(resource: dict[str, Any]) -> None:
    kind = resource["resourceType"]
    for (of, element), codes in _REQUIRED_CODES.items():
        if of == kind and resource.get(element) not in codes:
            raise ValueError(f"{kind}.{element} {resource.get(element)!r} is not a valid code")
    if kind == "Device":
        for name in resource.get("deviceName", []):
            if name["type"] not in _DEVICE_NAME_TYPES:
                raise ValueError(f"Device.deviceName.type {name['type']!r} is not a valid code")
    if kind == "Observation":
        has_value = any(v in resource for v in _VALUES)
        if has_value and "dataAbsentReason" in resource:
            raise ValueError("obs-6: dataAbsentReason only when there is no value")
        codes = {c["code"] for c in resource["code"]["coding"]}
        for component in resource.get("component", []):
            if codes & {c["code"] for c in component["code"]["coding"]}:
                raise ValueError("obs-7: a component's code must differ from the Observation's")
    if kind == "Bundle":
        for entry in resource.get("entry", []):
            if entry["request"]["method"] not in _METHODS:
                raise ValueError(f"Bundle request.method {entry['request']['method']!r}")
            _check_bindings_and_invariants(entry["resource"])


def validate(resource: dict[str, Any]) -> None:
    """Raise unless the resource is valid FHIR (R4B models: R4's elements for these types)."""
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)
    _check_bindings_and_invariants(resource)
