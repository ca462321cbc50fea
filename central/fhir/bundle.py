"""Transaction-Bundle entries for one stored reading, every one a conditional create.

Each entry is POSTed with `ifNoneExist: identifier=<system>|<value>`: the reading id is the
Observation's identifier (with a suffix per Observation, `-coincident-time` for the PHD
IG's coincident timestamp) and the device id the Device's, so sending a reading twice (a retry,
a second instance, a re-export) finds the resources made the first time instead of doubling
them. References between entries use the deterministic `urn:uuid:` fullUrls.
"""

from __future__ import annotations

from typing import Any

from central.fhir.resources import map_reading
from central.fhir.settings import FhirSettings
from central.records import StoredReading


def entries_for(reading: StoredReading, settings: FhirSettings) -> list[dict[str, Any]]:
    """The reading's entries (Devices first); none for a control-solution record.

    Raises UnmappableReadingError when the reading cannot be mapped.
    """
    return [
        {
            "fullUrl": f"urn:uuid:{r.uuid}",
            "resource": r.resource,
            "request": {
                "method": "POST",
                "url": r.resource_type,
                "ifNoneExist": r.if_none_exist(),
            },
        }
        for r in map_reading(reading, settings)
    ]


def transaction_bundle(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A transaction Bundle of entries, dropping a repeated fullUrl (a Device of two readings).

    Two entries with one fullUrl make a transaction invalid; the Device they name is the same
    resource, so the first is kept.
    """
    seen: set[str] = set()
    unique = []
    for entry in entries:
        if entry["fullUrl"] not in seen:
            seen.add(entry["fullUrl"])
            unique.append(entry)
    return {"resourceType": "Bundle", "type": "transaction", "entry": unique}
