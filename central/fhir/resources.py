"""Stored readings as FHIR R4 resources, shaped for SATUSEHAT and the HL7 PHD IG. Pure.

One reading gives its Devices (the meter, and the gateway that carried it) and its
Observations: blood pressure as systolic + diastolic (SATUSEHAT's outpatient guide) or as the
85354-9 panel, pulse on its own, capillary glucose by glucometer (fasting or not).

Validated in tests with `fhir.resources`' R4B models: R4B changed none of the Observation,
Device or Bundle elements used here from R4 4.0.1 (same fields and cardinalities in both).

Choices the specifications leave open, and why:
- Control-solution records give no resource at all. A QC measurement is a fact about the meter,
  not about a resident; SATUSEHAT has no use for a subject-less QC Observation, and not sending
  one removes any chance of it being filed against whoever was on the kiosk screen.
- A meter's HI/LO has no number: the Observation carries no value, a dataAbsentReason
  (`unknown`, with text saying the meter was off its scale) and the v3 interpretation `>` (off
  scale high) or `<` (off scale low), so a consumer can still triage it as urgent.
- Time quality goes on every Observation as an extension (a code a consumer can filter on); a
  reading whose clock could not be trusted (stamped on receipt, or unknown) also carries a note
  in words, as the PHD IG asks that such times not be presented as the device's.
- A reading whose time the gateway corrected for the meter's clock (time quality
  `device_clock`, with the offset it measured) gets the PHD IG's coincident-timestamp
  Observation (profile PhdCoincidentTimeStampObservation; code MDC_ATTR_TIME_ABS, 67975 in
  urn:iso:std:iso:11073:10101; https://hl7.org/fhir/uv/phd/coincidentTime.html): the
  gateway's time in effectiveDateTime and what the meter's clock read at that moment in
  valueDateTime, so the meter's own timestamp can be recovered. The pair is taken at the
  measurement: measured_at (gateway timeline) and measured_at plus the offset (the meter's
  timeline), both in UTC, because the meter's own text has no zone. Each measurement links
  to it twice, as both editions of the IG ask: `derivedFrom` (STU 1) and the
  CoincidentTimeStampReference extension (STU 2). The IG's examples give a coincident
  timestamp no identifier, as a gateway creates each once; central re-sends (retries, a
  second instance), so it has one, `<reading id>-coincident-time`, for If-None-Exist.
- The meter is identified by the gateway's device id. With a serial number that id is the
  maker and serial, the same on any gateway (a meter moved to another kiosk stays one Device);
  without one it is a port or address, unique only on its gateway, so the gateway id prefixes
  it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import uuid
from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import orjson

from central.fhir.errors import NoSubjectError, SubjectError, UnmappableReadingError
from central.fhir.settings import NIK_SYSTEM, FhirSettings
from central.records import StoredReading
from core.errors import PayloadError
from core.payload import check_reading, parse_rfc3339, rfc3339
from core.sealing import SealError, unseal

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
# FHIR core extension used by the PHD IG for the gateway that relayed a measurement:
# http://hl7.org/fhir/extensions/StructureDefinition-observation-gatewayDevice.html
GATEWAY_DEVICE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice"
# PHD IG: https://hl7.org/fhir/uv/phd/StructureDefinition-PhdCoincidentTimeStampObservation.html
_PHD = "http://hl7.org/fhir/uv/phd/StructureDefinition/"
COINCIDENT_TIME_PROFILE = _PHD + "PhdCoincidentTimeStampObservation"
COINCIDENT_TIME_EXTENSION = _PHD + "CoincidentTimeStampReference"
MDC = "urn:iso:std:iso:11073:10101"
MDC_ATTR_TIME_ABS = "67975"
# FHIR R4 core extension for where an event happened (Observation has no location element).
EVENT_LOCATION_EXTENSION = "http://hl7.org/fhir/StructureDefinition/event-location"

# All deterministic ids (fullUrl, export ids) are uuid5 in this namespace of the
# identifier's system|value: the same resource gets the same id on every export and re-send.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://gempita.balikpapan.go.id/fhir")
_NAMESPACE_BYTES = _NAMESPACE.bytes

# FHIR's `code` datatype: no leading, trailing or doubled whitespace.
_CODE = re.compile(r"[^\s]+( [^\s]+)*")

UNTRUSTED_TIME = frozenset(("gateway_receive", "unknown"))

_STATUS_TEXT = {
    "body_movement": "body movement during measurement",
    "cuff_loose": "cuff fit too loose",
    "irregular_pulse": "irregular pulse detected",
    "pulse_above_range": "pulse rate above the device's range",
    "pulse_below_range": "pulse rate below the device's range",
    "improper_position": "improper measurement position",
}

_BP_CODES = {
    "systolic": ("8480-6", "Systolic blood pressure"),
    "diastolic": ("8462-4", "Diastolic blood pressure"),
    "panel": ("85354-9", "Blood pressure panel with all children optional"),
    "pulse": ("8867-4", "Heart rate"),
}
_GLUCOSE_RANDOM = ("41653-7", "Glucose [Mass/volume] in Capillary blood by Glucometer")
_GLUCOSE_FASTING = ("41604-0", "Fasting glucose [Mass/volume] in Capillary blood by Glucometer")


@dataclass(frozen=True, slots=True)
class FhirResource:
    """One resource and the business identifier that makes its creation conditional."""

    uuid: str
    identifier_system: str
    identifier_value: str
    resource: dict[str, Any]

    @property
    def resource_type(self) -> str:
        return str(self.resource["resourceType"])

    def if_none_exist(self) -> str:
        """The conditional-create query: `identifier=<system>|<value>`, URL-escaped."""
        return "identifier=" + quote(f"{self.identifier_system}|{self.identifier_value}", "|:/")


Reference = Callable[[FhirResource], str]


def urn_reference(resource: FhirResource) -> str:
    """Reference by fullUrl, as inside a transaction Bundle."""
    return f"urn:uuid:{resource.uuid}"


def resource_uuid(system: str, value: str) -> str:
    """uuid5(_NAMESPACE, "system|value") as text, without building `uuid.UUID` objects.

    An export makes several per reading; the UUID class's checks and conversions cost more
    than the SHA-1 itself (tests/fhir pins this against `uuid.uuid5`).
    """
    name = _NAMESPACE_BYTES + f"{system}|{value}".encode()
    # SHA-1 because RFC 4122's name-based version 5 is defined with it; no secret is involved.
    digest = bytearray(hashlib.sha1(name, usedforsecurity=False).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# Meters and gateways recur on every reading they measured or carried.
_device_uuid = functools.lru_cache(maxsize=4096)(resource_uuid)


def observation_system(settings: FhirSettings) -> str:
    return f"http://sys-ids.kemkes.go.id/observation/{settings.organization_id}"


def map_reading(
    reading: StoredReading,
    settings: FhirSettings,
    *,
    reference: Reference = urn_reference,
    checked: bool = False,
    known_devices: Container[str] = frozenset(),
) -> list[FhirResource]:
    """The reading's Devices, then its Observations; nothing for a control-solution record.

    Raises UnmappableReadingError (SubjectError for the subject) when the stored payload cannot
    be shaped into valid resources; `reference` says how an Observation points at a Device.
    `checked=True` skips the contract check for a caller that reads rows only central's door
    wrote (it checks every payload before storing it): the check is a third of the mapping's
    cost, and a row that still lacks a field gives the same typed error. Devices whose uuid is
    in `known_devices` (a caller that wrote them already) are referenced but not built again.
    Each resource's top-level dict is new; the coded concepts inside it are shared constants,
    so treat everything below the top level as read-only.
    """
    try:
        data = orjson.loads(reading.payload)
        if not checked:
            check_reading(data)
    except orjson.JSONDecodeError as exc:
        raise UnmappableReadingError(reading.id, "stored payload is not JSON") from exc
    except PayloadError as exc:
        raise UnmappableReadingError(reading.id, str(exc)) from exc
    try:
        return _map(reading.id, data, settings, reference, known_devices)
    except (KeyError, TypeError, AttributeError) as exc:
        # Only reachable with checked=True: the contract check refuses such a payload first.
        raise UnmappableReadingError(
            reading.id, "stored payload lacks a field or has one of the wrong type"
        ) from exc


def _map(
    reading_id: str,
    data: Any,
    settings: FhirSettings,
    reference: Reference,
    known: Container[str],
) -> list[FhirResource]:
    values = data["values"]
    if data["kind"] == "glucose" and values["control_solution"]:
        return []
    device = data["device"]
    meter_value = device["id"] if device["serial"] else f"{data['gateway_id']}/{device['id']}"
    meter_uuid = _device_uuid(settings.device_system, meter_value)
    gateway_id = data["gateway_id"]
    gateway_uuid = _device_uuid(settings.gateway_system, gateway_id)
    devices = []
    if meter_uuid in known:
        meter = FhirResource(meter_uuid, settings.device_system, meter_value, _KNOWN_DEVICE)
    else:
        meter = _meter(data, settings, meter_uuid, meter_value)
        devices.append(meter)
    if gateway_uuid in known:
        gateway = FhirResource(gateway_uuid, settings.gateway_system, gateway_id, _KNOWN_DEVICE)
    else:
        gateway = _gateway(gateway_id, settings, gateway_uuid)
        devices.append(gateway)
    context = _Context(
        reading_id=reading_id,
        data=data,
        settings=settings,
        subject=_subject(reading_id, data, settings),
        meter_ref=reference(meter),
        gateway_ref=reference(gateway),
    )
    coincident = _coincident_time(context)
    if coincident is not None:
        context = dataclasses.replace(context, coincident_ref=reference(coincident))
    observations = (
        _blood_pressure(context) if data["kind"] == "blood_pressure" else _glucose(context)
    )
    return [*devices, *([coincident] if coincident else []), *observations]


# Stands in for a Device the caller already has: only its reference is needed.
_KNOWN_DEVICE: dict[str, Any] = {"resourceType": "Device"}


@dataclass(frozen=True, slots=True)
class _Context:
    reading_id: str
    data: dict[str, Any]
    settings: FhirSettings
    subject: dict[str, Any]
    meter_ref: str
    gateway_ref: str
    coincident_ref: str | None = None  # the coincident timestamp, when the time was corrected


def _coincident_time(context: _Context) -> FhirResource | None:
    """The meter's clock beside the gateway's, when the gateway moved the meter's timestamp.

    `synced` (the clock was right or set) and the untrusted qualities (no device time was
    used) change nothing of the meter's, so they have none.
    """
    data = context.data
    offset = data.get("clock_offset_s")
    if data["time_quality"] != "device_clock" or offset is None:
        return None
    gateway_time = parse_rfc3339(data["measured_at"])
    try:
        meter_time = rfc3339(gateway_time + timedelta(seconds=offset))
    except OverflowError as exc:  # an offset past year 9999: the meter's clock is garbage
        raise UnmappableReadingError(
            context.reading_id, "clock_offset_s puts the device clock outside any date"
        ) from exc
    settings = context.settings
    value = f"{context.reading_id}-coincident-time"
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"profile": [COINCIDENT_TIME_PROFILE]},
        "extension": [
            {"url": GATEWAY_DEVICE_EXTENSION, "valueReference": {"reference": context.gateway_ref}}
        ],
        "identifier": [{"system": observation_system(settings), "value": value}],
        "status": "final",
        "code": _ABSOLUTE_TIME,
        "subject": context.subject,
        "effectiveDateTime": data["measured_at"],
        "valueDateTime": meter_time,
        "device": {"reference": context.meter_ref},
    }
    if settings.encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{settings.encounter_id}"}
    if data.get("device_time"):
        # The meter's own words, zone-less as it keeps them: what valueDateTime was read from.
        resource["note"] = [{"text": f"device clock showed {data['device_time']} (local time)"}]
    return _finish(context, value, resource)


_ABSOLUTE_TIME: dict[str, Any] = {
    "coding": [{"system": MDC, "code": MDC_ATTR_TIME_ABS, "display": "MDC_ATTR_TIME_ABS"}],
    "text": "MDC_ATTR_TIME_ABS: Absolute time",
}


def _meter(data: dict[str, Any], settings: FhirSettings, uuid_: str, value: str) -> FhirResource:
    device = data["device"]
    resource: dict[str, Any] = {
        "resourceType": "Device",
        "identifier": [{"system": settings.device_system, "value": value}],
        "status": "active",
        "deviceName": [{"name": device["id"], "type": "other"}],
        "type": {
            "text": "blood pressure monitor"
            if data["kind"] == "blood_pressure"
            else "glucose meter"
        },
    }
    if device["manufacturer"]:
        resource["manufacturer"] = device["manufacturer"]
    if device["model"]:
        resource["modelNumber"] = device["model"]
        resource["deviceName"].append({"name": device["model"], "type": "model-name"})
    if device["serial"]:
        resource["serialNumber"] = device["serial"]
    if device["firmware"]:
        resource["version"] = [{"type": {"text": "firmware"}, "value": device["firmware"]}]
    return FhirResource(uuid_, settings.device_system, value, resource)


def _gateway(gateway_id: str, settings: FhirSettings, uuid_: str) -> FhirResource:
    resource = {
        "resourceType": "Device",
        "identifier": [{"system": settings.gateway_system, "value": gateway_id}],
        "status": "active",
        "deviceName": [{"name": gateway_id, "type": "other"}],
        "type": {"text": "Gempita gateway (kiosk or kader kit)"},
    }
    return FhirResource(uuid_, settings.gateway_system, gateway_id, resource)


def _subject(reading_id: str, data: dict[str, Any], settings: FhirSettings) -> dict[str, Any]:
    subject = data.get("subject")
    if subject is None:
        raise NoSubjectError(reading_id, "no subject: no kiosk or kader session claimed it")
    if settings.subject_identifier == "pseudonym":
        identifier = {"system": settings.pseudonym_system, "value": subject["pseudonym"]}
        return {"type": "Patient", "identifier": identifier}
    sealed = subject.get("sealed_nik")
    if not sealed:
        raise SubjectError(reading_id, "NIK mode, but the reading carries no sealed NIK")
    if settings.nik_private_key is None:  # FhirSettings refuses this; mypy cannot know
        raise SubjectError(reading_id, "NIK mode without central's private key")
    try:
        nik = unseal(sealed, settings.nik_private_key)
    except SealError as exc:
        raise SubjectError(reading_id, f"sealed NIK cannot be opened ({exc})") from exc
    if len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        raise SubjectError(reading_id, "sealed NIK does not hold 16 digits")
    return {"type": "Patient", "identifier": {"system": NIK_SYSTEM, "value": nik}}


def _performers(context: _Context) -> list[dict[str, Any]]:
    performer = (context.data.get("subject") or {}).get("performer", "self")
    organization = {"reference": f"Organization/{context.settings.organization_id}"}
    if performer == "self":
        return [context.subject, organization]
    kader = performer.removeprefix("kader:")
    if performer.startswith("kader:") and kader:
        who = {
            "type": "Practitioner",
            "identifier": {"system": context.settings.kader_system, "value": kader},
        }
        return [who, organization]
    raise UnmappableReadingError(context.reading_id, "subject.performer is not self or kader:<id>")


def _observation(
    context: _Context, suffix: str, category: str, code: tuple[str, str]
) -> tuple[str, dict[str, Any]]:
    settings = context.settings
    data = context.data
    value = f"{context.reading_id}-{suffix}"
    time_quality = data["time_quality"]
    extensions: list[dict[str, Any]] = [
        {"url": GATEWAY_DEVICE_EXTENSION, "valueReference": {"reference": context.gateway_ref}},
        {"url": settings.time_quality_extension, "valueCode": time_quality},
    ]
    if settings.location_id:
        extensions.append(
            {
                "url": EVENT_LOCATION_EXTENSION,
                "valueReference": {"reference": f"Location/{settings.location_id}"},
            }
        )
    if context.coincident_ref:
        extensions.append(
            {
                "url": COINCIDENT_TIME_EXTENSION,
                "valueReference": {"reference": context.coincident_ref},
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "extension": extensions,
        "identifier": [{"system": observation_system(settings), "value": value}],
        "status": "final",
        "category": _CATEGORIES[category],
        "code": _loinc(code),
        "subject": context.subject,
        "effectiveDateTime": data["measured_at"],
        "performer": _performers(context),
        "device": {"reference": context.meter_ref},
    }
    if context.coincident_ref:
        resource["derivedFrom"] = [{"reference": context.coincident_ref}]
    if settings.encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{settings.encounter_id}"}
    if time_quality in UNTRUSTED_TIME:
        resource["note"] = [
            {
                "text": "Waktu pengukuran tidak terpercaya / measurement time not trusted: "
                f"the device clock could not be verified (time quality {time_quality})."
            }
        ]
    return value, resource


# Shared, never mutated: the same concept goes on every Observation of its kind.
_CATEGORIES = {
    category: [{"coding": [{"system": OBSERVATION_CATEGORY, "code": category, "display": text}]}]
    for category, text in (("vital-signs", "Vital Signs"), ("laboratory", "Laboratory"))
}


@functools.cache
def _loinc(code: tuple[str, str]) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code[0], "display": code[1]}]}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _status_codings(flags: list[str], settings: FhirSettings) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for flag in flags:
        text = _STATUS_TEXT.get(flag) or flag.replace("_", " ").strip()
        if not text:
            continue
        concept: dict[str, Any] = {"text": text}
        # A flag this code does not know still reaches the reader, as text when it cannot be
        # a code.
        if _CODE.fullmatch(flag):
            coding = {"system": settings.status_system, "code": flag}
            if flag in _STATUS_TEXT:
                coding["display"] = _STATUS_TEXT[flag]
            concept = {"coding": [coding], "text": text}
        out.append(concept)
    return out


def _finish(context: _Context, value: str, resource: dict[str, Any]) -> FhirResource:
    system = observation_system(context.settings)
    return FhirResource(resource_uuid(system, value), system, value, resource)


def _blood_pressure(context: _Context) -> list[FhirResource]:
    values = context.data["values"]
    systolic, diastolic = values["systolic_mmhg"], values["diastolic_mmhg"]
    if systolic is None or diastolic is None:
        raise UnmappableReadingError(context.reading_id, "blood pressure without both pressures")
    flags = _status_codings(values["status"], context.settings)
    out: list[FhirResource] = []

    def add(suffix: str, code: tuple[str, str], fill: dict[str, Any]) -> None:
        value, resource = _observation(context, suffix, "vital-signs", code)
        resource.update(fill)
        if flags:
            resource["interpretation"] = flags
        out.append(_finish(context, value, resource))

    if context.settings.bp_profile == "split":
        add("systolic", _BP_CODES["systolic"], {"valueQuantity": _quantity(systolic, "mm[Hg]")})
        add("diastolic", _BP_CODES["diastolic"], {"valueQuantity": _quantity(diastolic, "mm[Hg]")})
    else:
        components = [
            {
                "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                "valueQuantity": _quantity(pressure, "mm[Hg]"),
            }
            for (code, display), pressure in (
                (_BP_CODES["systolic"], systolic),
                (_BP_CODES["diastolic"], diastolic),
            )
        ]
        add("bp", _BP_CODES["panel"], {"component": components})
    if values["pulse_bpm"] is not None:
        add("pulse", _BP_CODES["pulse"], {"valueQuantity": _quantity(values["pulse_bpm"], "/min")})
    return out


def _glucose(context: _Context) -> list[FhirResource]:
    values = context.data["values"]
    code = _GLUCOSE_FASTING if values["meal"] == "fasting" else _GLUCOSE_RANDOM
    value, resource = _observation(context, "glucose", "laboratory", code)
    interpretation = _status_codings(values["sensor_status"], context.settings)
    if values["hi"] or values["lo"]:
        high = bool(values["hi"])
        resource["dataAbsentReason"] = {
            "coding": [{"system": DATA_ABSENT_REASON, "code": "unknown", "display": "Unknown"}],
            "text": "meter showed "
            + ("HI: above" if high else "LO: below")
            + " its measuring range, so it gave no number",
        }
        interpretation.insert(
            0,
            {
                "coding": [
                    {
                        "system": V3_INTERPRETATION,
                        "code": ">" if high else "<",
                        "display": "Off scale high" if high else "Off scale low",
                    }
                ]
            },
        )
    elif values["glucose_mgdl"] is None:
        raise UnmappableReadingError(context.reading_id, "glucose without a value, HI or LO")
    else:
        resource["valueQuantity"] = _quantity(values["glucose_mgdl"], "mg/dL")
    if interpretation:
        resource["interpretation"] = interpretation
    return [_finish(context, value, resource)]
