"""The NIK reaches FHIR only when the deployment asks and central can unseal it."""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from pydantic import ValidationError

from central.fhir.bundle import entries_for
from central.fhir.errors import SubjectError
from central.fhir.settings import NIK_SYSTEM, FhirSettings
from core.reading import Subject
from core.sealing import generate_keypair, seal
from tests.fhir.helpers import PSEUDONYM, SETTINGS, bp_reading, stored, validate

NIK = "6471054108900003"
KEYS = generate_keypair()


def _sealed_reading(nik: str = NIK) -> Subject:
    return Subject(PSEUDONYM, sealed_nik=seal(nik, KEYS.public_key))


def test_nik_mode_unseals_and_names_the_patient_by_nik() -> None:
    settings = dataclasses.replace(
        SETTINGS, subject_identifier="nik", nik_private_key=KEYS.private_key
    )
    entries = entries_for(stored(bp_reading(subject=_sealed_reading())), settings)
    observations = [
        e["resource"] for e in entries if e["resource"]["resourceType"] == "Observation"
    ]
    assert len(observations) == 3
    for observation in observations:
        validate(observation)
        assert observation["subject"] == {
            "type": "Patient",
            "identifier": {"system": NIK_SYSTEM, "value": NIK},
        }
        assert PSEUDONYM not in orjson.dumps(observation).decode()


def test_default_mode_never_carries_the_nik() -> None:
    reading = stored(bp_reading(subject=_sealed_reading()))
    text = orjson.dumps(entries_for(reading, SETTINGS)).decode()
    assert NIK not in text
    assert NIK_SYSTEM not in text
    assert PSEUDONYM in text


def test_nik_mode_needs_the_private_key() -> None:
    with pytest.raises(ValueError, match="needs nik_private_key"):
        FhirSettings(organization_id="1", subject_identifier="nik")
    with pytest.raises(ValueError, match="32-byte"):
        FhirSettings(organization_id="1", subject_identifier="nik", nik_private_key=b"short")


def test_nik_mode_errors_never_quote_the_nik() -> None:
    other = generate_keypair()
    settings = dataclasses.replace(
        SETTINGS, subject_identifier="nik", nik_private_key=other.private_key
    )
    with pytest.raises(SubjectError, match="cannot be opened") as caught:
        entries_for(stored(bp_reading(subject=_sealed_reading())), settings)
    assert NIK not in str(caught.value)
    right = dataclasses.replace(settings, nik_private_key=KEYS.private_key)
    with pytest.raises(SubjectError, match="16 digits") as caught:
        entries_for(stored(bp_reading(subject=_sealed_reading("64710541089"))), right)
    assert "64710541089" not in str(caught.value)
    with pytest.raises(SubjectError, match="no sealed NIK"):
        entries_for(stored(bp_reading()), right)


def test_the_validator_refuses_a_broken_resource() -> None:
    # The goldens' validation means something only if a bad resource fails it.
    observation = entries_for(stored(bp_reading()), SETTINGS)[2]["resource"]
    with pytest.raises(ValidationError):
        validate({**observation, "valueQuantity": {"value": "high"}})
    with pytest.raises(ValidationError):
        validate({**observation, "bogus": 1})
    # What fhir.resources lets through, the helper's own checks catch.
    with pytest.raises(ValueError, match="status"):
        validate({**observation, "status": "not-a-status"})
    with pytest.raises(ValueError, match="obs-6"):
        validate({**observation, "dataAbsentReason": {"text": "x"}})
