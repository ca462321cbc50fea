"""Golden FHIR resources for each kind of reading, every one validated with fhir.resources."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from central.fhir.bundle import entries_for, transaction_bundle
from central.fhir.errors import SubjectError, UnmappableReadingError
from central.fhir.resources import (
    _NAMESPACE,
    GATEWAY_DEVICE_EXTENSION,
    map_reading,
    resource_uuid,
)
from central.fhir.settings import FhirSettings
from core.reading import DeviceIdentity, Subject, TimeQuality, Transport
from tests.fhir.helpers import PSEUDONYM, SETTINGS, bp_reading, glucose_reading, stored, validate

OBS_SYSTEM = "http://sys-ids.kemkes.go.id/observation/10000004"
PATIENT = {
    "type": "Patient",
    "identifier": {"system": "https://gempita.balikpapan.go.id/id/pseudonym", "value": PSEUDONYM},
}
METER_ID = "omron:SN42"
METER_URN = "urn:uuid:" + resource_uuid("https://gempita.balikpapan.go.id/id/device", METER_ID)
GATEWAY_URN = "urn:uuid:" + resource_uuid("https://gempita.balikpapan.go.id/id/gateway", "kiosk-07")


def _entries(reading: Any, settings: FhirSettings = SETTINGS) -> list[dict[str, Any]]:
    entries = entries_for(stored(reading), settings)
    for entry in entries:
        validate(entry["resource"])
    validate(transaction_bundle(entries))
    return entries


def _observations(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["resource"] for e in entries if e["resource"]["resourceType"] == "Observation"]


def _code(resource: dict[str, Any]) -> str:
    return str(resource["code"]["coding"][0]["code"])


def test_bp_split_golden() -> None:
    entries = _entries(bp_reading(status=frozenset({"body_movement"})))
    assert [e["request"]["url"] for e in entries] == [
        "Device",
        "Device",
        "Observation",
        "Observation",
        "Observation",
    ]
    systolic = entries[2]
    assert systolic == {
        "fullUrl": "urn:uuid:" + resource_uuid(OBS_SYSTEM, "r-bp-1-systolic"),
        "request": {
            "method": "POST",
            "url": "Observation",
            "ifNoneExist": f"identifier={OBS_SYSTEM}|r-bp-1-systolic",
        },
        "resource": {
            "resourceType": "Observation",
            "extension": [
                {"url": GATEWAY_DEVICE_EXTENSION, "valueReference": {"reference": GATEWAY_URN}},
                {
                    "url": "https://gempita.balikpapan.go.id/fhir/StructureDefinition/time-quality",
                    "valueCode": "synced",
                },
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/event-location",
                    "valueReference": {"reference": "Location/loc-1"},
                },
            ],
            "identifier": [{"system": OBS_SYSTEM, "value": "r-bp-1-systolic"}],
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs",
                            "display": "Vital Signs",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [
                    {
                        "system": "http://loinc.org",
                        "code": "8480-6",
                        "display": "Systolic blood pressure",
                    }
                ]
            },
            "subject": PATIENT,
            "encounter": {"reference": "Encounter/enc-1"},
            "effectiveDateTime": "2026-11-01T01:02:03.456Z",
            "performer": [PATIENT, {"reference": "Organization/10000004"}],
            "device": {"reference": METER_URN},
            "valueQuantity": {
                "value": 142.0,
                "unit": "mm[Hg]",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
            "interpretation": [
                {
                    "coding": [
                        {
                            "system": "https://gempita.balikpapan.go.id/fhir/CodeSystem/measurement-status",
                            "code": "body_movement",
                            "display": "body movement during measurement",
                        }
                    ],
                    "text": "body movement during measurement",
                }
            ],
        },
    }
    diastolic, pulse = entries[3]["resource"], entries[4]["resource"]
    assert (_code(diastolic), diastolic["valueQuantity"]["value"]) == ("8462-4", 91.0)
    assert diastolic["identifier"][0]["value"] == "r-bp-1-diastolic"
    assert (_code(pulse), pulse["valueQuantity"]["unit"], pulse["valueQuantity"]["value"]) == (
        "8867-4",
        "/min",
        72.0,
    )
    assert pulse["interpretation"] == systolic["resource"]["interpretation"]


def test_meter_and_gateway_devices_golden() -> None:
    meter, gateway = (e for e in _entries(bp_reading())[:2])
    assert meter == {
        "fullUrl": METER_URN,
        "request": {
            "method": "POST",
            "url": "Device",
            "ifNoneExist": f"identifier=https://gempita.balikpapan.go.id/id/device|{METER_ID}",
        },
        "resource": {
            "resourceType": "Device",
            "identifier": [
                {"system": "https://gempita.balikpapan.go.id/id/device", "value": METER_ID}
            ],
            "status": "active",
            "deviceName": [
                {"name": METER_ID, "type": "other"},
                {"name": "HEM-7155T", "type": "model-name"},
            ],
            "type": {"text": "blood pressure monitor"},
            "manufacturer": "Omron",
            "modelNumber": "HEM-7155T",
            "serialNumber": "SN42",
            "version": [{"type": {"text": "firmware"}, "value": "1.2"}],
        },
    }
    assert gateway["fullUrl"] == GATEWAY_URN
    assert gateway["resource"]["identifier"] == [
        {"system": "https://gempita.balikpapan.go.id/id/gateway", "value": "kiosk-07"}
    ]


def test_a_meter_without_serial_is_named_within_its_gateway() -> None:
    device = DeviceIdentity(Transport.BLE, "11:22:33:44:55:66", None, None, None, None)
    meter = _entries(bp_reading(device=device))[0]["resource"]
    assert meter["identifier"][0]["value"] == "kiosk-07/ble:11:22:33:44:55:66"
    assert not {"manufacturer", "modelNumber", "serialNumber", "version"} & set(meter)


def test_bp_panel_golden() -> None:
    settings = dataclasses.replace(SETTINGS, bp_profile="panel")
    observations = _observations(_entries(bp_reading(pulse=None), settings))
    assert len(observations) == 1
    panel = observations[0]
    assert _code(panel) == "85354-9"
    assert panel["identifier"] == [{"system": OBS_SYSTEM, "value": "r-bp-1-bp"}]
    assert "valueQuantity" not in panel
    assert panel["component"] == [
        {
            "code": {
                "coding": [
                    {
                        "system": "http://loinc.org",
                        "code": "8480-6",
                        "display": "Systolic blood pressure",
                    }
                ]
            },
            "valueQuantity": {
                "value": 142.0,
                "unit": "mm[Hg]",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        },
        {
            "code": {
                "coding": [
                    {
                        "system": "http://loinc.org",
                        "code": "8462-4",
                        "display": "Diastolic blood pressure",
                    }
                ]
            },
            "valueQuantity": {
                "value": 91.0,
                "unit": "mm[Hg]",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        },
    ]


def test_random_glucose_golden() -> None:
    (observation,) = _observations(_entries(glucose_reading(meal="casual")))
    assert observation["code"] == {
        "coding": [
            {
                "system": "http://loinc.org",
                "code": "41653-7",
                "display": "Glucose [Mass/volume] in Capillary blood by Glucometer",
            }
        ]
    }
    assert observation["category"][0]["coding"][0]["code"] == "laboratory"
    assert observation["valueQuantity"] == {
        "value": 123.0,
        "unit": "mg/dL",
        "system": "http://unitsofmeasure.org",
        "code": "mg/dL",
    }
    assert observation["performer"] == [
        {
            "type": "Practitioner",
            "identifier": {"system": "https://gempita.balikpapan.go.id/id/kader", "value": "siti"},
        },
        {"reference": "Organization/10000004"},
    ]
    assert "interpretation" not in observation and "dataAbsentReason" not in observation


def test_fasting_glucose_has_the_fasting_code() -> None:
    (observation,) = _observations(_entries(glucose_reading(meal="fasting")))
    assert _code(observation) == "41604-0"
    # Before a meal is not fasting (no eight hours implied): the random code.
    (preprandial,) = _observations(_entries(glucose_reading(meal="preprandial")))
    assert _code(preprandial) == "41653-7"


@pytest.mark.parametrize(
    ("flag", "code", "words"), [("hi", ">", "HI: above"), ("lo", "<", "LO: below")]
)
def test_hi_and_lo_have_no_number_and_say_why(flag: str, code: str, words: str) -> None:
    reading = glucose_reading(glucose_mgdl=None, **{flag: True})
    (observation,) = _observations(_entries(reading))
    assert "valueQuantity" not in observation
    assert observation["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert words in observation["dataAbsentReason"]["text"]
    assert observation["interpretation"][0]["coding"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            "code": code,
            "display": "Off scale high" if flag == "hi" else "Off scale low",
        }
    ]


def test_control_solution_is_never_a_residents_observation() -> None:
    reading = glucose_reading(control_solution=True, sample_type="control_solution")
    assert entries_for(stored(reading), SETTINGS) == []
    assert map_reading(stored(reading), SETTINGS) == []


@pytest.mark.parametrize("quality", [TimeQuality.GATEWAY_RECEIVE, TimeQuality.UNKNOWN])
def test_untrusted_clock_is_said_on_each_observation(quality: TimeQuality) -> None:
    for observation in _observations(_entries(bp_reading(time_quality=quality))):
        assert {"url": SETTINGS.time_quality_extension, "valueCode": quality.value} in observation[
            "extension"
        ]
        assert "not trusted" in observation["note"][0]["text"]


def test_trusted_clock_has_no_note() -> None:
    for quality in (TimeQuality.SYNCED, TimeQuality.DEVICE_CLOCK):
        for observation in _observations(_entries(bp_reading(time_quality=quality))):
            assert "note" not in observation


def test_unknown_and_odd_flags_stay_readable_and_valid() -> None:
    odd = frozenset({"cuff_loose", "vendor_bit_9", "two  spaces", " "})
    systolic = _observations(_entries(bp_reading(status=odd)))[0]
    texts = sorted(c["text"] for c in systolic["interpretation"])
    assert texts == ["cuff fit too loose", "two  spaces", "vendor bit 9"]
    uncoded = [c for c in systolic["interpretation"] if "coding" not in c]
    assert [c["text"] for c in uncoded] == ["two  spaces"]


def test_without_location_or_encounter_they_are_left_out() -> None:
    settings = FhirSettings(organization_id="10000004")
    for observation in _observations(_entries(bp_reading(), settings)):
        assert "encounter" not in observation
        assert [e["url"] for e in observation["extension"]] == [
            GATEWAY_DEVICE_EXTENSION,
            settings.time_quality_extension,
        ]


def test_unbound_reading_is_a_subject_error() -> None:
    with pytest.raises(SubjectError, match=r"r-bp-1.*no subject"):
        entries_for(stored(bp_reading(subject=None)), SETTINGS)


def test_unmappable_payloads_are_typed_errors() -> None:
    reading = stored(glucose_reading(glucose_mgdl=None))
    with pytest.raises(UnmappableReadingError, match="without a value, HI or LO"):
        entries_for(reading, SETTINGS)
    with pytest.raises(UnmappableReadingError, match="not JSON"):
        entries_for(dataclasses.replace(reading, payload="{"), SETTINGS)
    with pytest.raises(UnmappableReadingError, match="lacks"):
        entries_for(
            dataclasses.replace(reading, payload='{"schema": "gempita.reading/1"}'), SETTINGS
        )
    odd = bp_reading(subject=Subject(PSEUDONYM, performer="neighbour"))
    with pytest.raises(UnmappableReadingError, match="performer"):
        entries_for(stored(odd), SETTINGS)


def test_the_same_reading_gives_the_same_entries() -> None:
    assert entries_for(stored(bp_reading()), SETTINGS) == entries_for(
        stored(bp_reading()), SETTINGS
    )


def test_a_bundle_of_two_readings_names_a_shared_device_once() -> None:
    first = entries_for(stored(bp_reading()), SETTINGS)
    other = dataclasses.replace(bp_reading(), id="r-bp-2")
    bundle = transaction_bundle(first + entries_for(stored(other), SETTINGS))
    validate(bundle)
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls)) == 2 + 3 + 3


@pytest.mark.parametrize("value", ["r-1", "omron:SN42", "ü" * 40, ""])
def test_resource_uuid_is_uuid5_of_system_and_value(value: str) -> None:
    expected = uuid.uuid5(_NAMESPACE, f"http://x.example|{value}")
    assert resource_uuid("http://x.example", value) == str(expected)
    assert uuid.UUID(resource_uuid("http://x.example", value)).version == 5


def test_checked_rows_with_a_missing_field_are_still_typed_errors() -> None:
    row = dataclasses.replace(stored(bp_reading()), payload='{"schema": "gempita.reading/1"}')
    with pytest.raises(UnmappableReadingError, match="lacks a field"):
        map_reading(row, SETTINGS, checked=True)
    good = stored(bp_reading())
    assert map_reading(good, SETTINGS, checked=True) == map_reading(good, SETTINGS)
