"""A small reading -> Observation mapping for the delivery tests (the real one is
central/fhir's export): valid R4 Observations, enough to exercise delivery."""

from __future__ import annotations

import json
import uuid
from typing import Any

from central.records import StoredReading

OBSERVATION_SYSTEM = "http://sys-ids.kemkes.go.id/observation/test-org"
LOINC = "http://loinc.org"


def observation(reading: StoredReading, code: str, value: float, unit: str) -> dict[str, Any]:
    ident = f"{reading.id}-{code}"
    return {
        "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, ident)}",
        "resource": {
            "resourceType": "Observation",
            "identifier": [{"system": OBSERVATION_SYSTEM, "value": ident}],
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "laboratory" if unit == "mg/dL" else "vital-signs",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {
                "identifier": {
                    "system": "https://gempita.balikpapan.go.id/id/pseudonym",
                    "value": "p-test",
                }
            },
            "effectiveDateTime": reading.measured_at,
            "valueQuantity": {
                "value": value,
                "unit": unit,
                "system": "http://unitsofmeasure.org",
                "code": unit,
            },
        },
        "request": {
            "method": "POST",
            "url": "Observation",
            "ifNoneExist": f"identifier={OBSERVATION_SYSTEM}|{ident}",
        },
    }


class Entries:
    """The builder the worker is given; `bad` readings get an invalid Observation."""

    def __init__(self) -> None:
        self.bad: dict[str, str] = {}  # reading id -> the invalid effectiveDateTime to send

    def __call__(self, reading: StoredReading) -> list[dict[str, Any]]:
        payload = json.loads(reading.payload)
        values = payload["values"]
        if reading.kind == "glucose":
            if values.get("control_solution"):
                return []
            entries = [observation(reading, "41653-7", values["glucose_mgdl"], "mg/dL")]
        else:
            entries = [
                observation(reading, "8480-6", values["systolic_mmhg"], "mm[Hg]"),
                observation(reading, "8462-4", values["diastolic_mmhg"], "mm[Hg]"),
            ]
        if reading.id in self.bad:
            entries[0]["resource"]["effectiveDateTime"] = self.bad[reading.id]
        return entries
