"""Reading <-> `gempita.reading/2` JSON payload (contract: broker/reading.schema.json).

Gateways build version 2; central reads version 1 too (broker/reading.v1.schema.json), so a
gateway not yet updated keeps delivering.

Pure functions. The payload is built once, when the reading is committed, and the same bytes
are sent on every retry: nothing in it depends on when it is sent.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

from core.errors import PayloadError
from core.reading import (
    AGE_BAND_LABELS,
    ASSURANCE_REASONS_MAX,
    SCHEMA_READING,
    SCHEMA_READING_V1,
    SCHEMA_READINGS,
    Assurance,
    AssuranceStatus,
    BloodPressure,
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    Sex,
    Subject,
    TimeQuality,
    Transport,
    is_reason_code,
    is_region,
)

_PSEUDONYM = re.compile(r"[0-9a-f]{64}")
# The schema's patterns, in ASCII and matched whole (JSON Schema's `\d` and `$` would also let
# through other scripts' digits and a trailing newline).
_GATEWAY_ID = re.compile(r"[A-Za-z0-9_-]+")
_MEASURED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z")
ID_MAX_CHARS = 64


def rfc3339(moment: datetime) -> str:
    """UTC instant as RFC 3339 with a `Z` and millisecond precision."""
    # Runs twice per reading: %-formatting the fields is cheaper than isoformat() and far
    # cheaper than strftime (figures: bench/RESULTS.md, "How (b) was met", commit 544c4c4).
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031 (an f-string is slower)
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond // 1000,
    )


def parse_rfc3339(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no zone")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError(f"time {text!r} is out of range in UTC") from exc


def _values(values: BloodPressure | Glucose) -> dict[str, Any]:
    if isinstance(values, BloodPressure):
        return {
            "systolic_mmhg": values.systolic_mmhg,
            "diastolic_mmhg": values.diastolic_mmhg,
            "map_mmhg": values.map_mmhg,
            "pulse_bpm": values.pulse_bpm,
            "original_unit": values.original_unit,
            "status": sorted(values.status),
            "user_id": values.user_id,
        }
    return {
        "glucose_mgdl": values.glucose_mgdl,
        "original_unit": values.original_unit,
        "original_value": values.original_value,
        "sample_type": values.sample_type,
        "sample_location": values.sample_location,
        "meal": values.meal,
        "control_solution": values.control_solution,
        "hi": values.hi,
        "lo": values.lo,
        "sensor_status": sorted(values.sensor_status),
    }


def to_payload(reading: Reading) -> dict[str, Any]:
    device = reading.device
    subject = reading.subject
    assurance = reading.assurance
    return {
        "schema": SCHEMA_READING,
        "id": reading.id,
        "gateway_id": reading.gateway_id,
        "site_id": reading.site_id,
        "kind": reading.kind.value,
        "measured_at": rfc3339(reading.measured_at),
        "time_quality": reading.time_quality.value,
        "device_time": reading.device_time,
        "clock_offset_s": reading.clock_offset_s,
        "received_at": rfc3339(reading.received_at) if reading.received_at else None,
        "device": {
            "transport": device.transport.value,
            "id": device.id,
            "address": device.address,
            "manufacturer": device.manufacturer,
            "model": device.model,
            "serial": device.serial,
            "firmware": device.firmware,
            "record_key": reading.record_key,
        },
        "values": _values(reading.values),
        "bound": reading.bound,
        "subject": None
        if subject is None
        else {
            "pseudonym": subject.pseudonym,
            "sealed_nik": subject.sealed_nik,
            "consent_version": subject.consent_version,
            "consent_at": rfc3339(subject.consent_at) if subject.consent_at else None,
            "session_id": subject.session_id,
            "performer": subject.performer,
            "region": subject.region,
            "sex": subject.sex.value if subject.sex else None,
            "age_band": subject.age_band,
        },
        "assurance": None
        if assurance is None
        else {"status": assurance.status.value, "reasons": list(assurance.reasons)},
    }


def encode_payload(payload: dict[str, Any]) -> bytes:
    # orjson: the same compact UTF-8 bytes as json.dumps(separators=(",", ":"),
    # ensure_ascii=False) at under half the CPU (bench/ (b)). It writes NaN as null where
    # json refused it; `Reading` refuses non-finite values instead.
    return orjson.dumps(payload)


def encode_reading(reading: Reading) -> bytes:
    return encode_payload(to_payload(reading))


def from_payload(data: dict[str, Any]) -> Reading:
    """Inverse of `to_payload`, for every version in SCHEMA_READINGS (a version 1 payload has
    no cascade fields and no assurance: they come back None). Raises KeyError/ValueError/
    TypeError on a malformed payload."""
    if data.get("schema") not in SCHEMA_READINGS:
        raise ValueError(f"unsupported schema {data.get('schema')!r}")
    dev = data["device"]
    device = DeviceIdentity(
        transport=Transport(dev["transport"]),
        address=dev.get("address") or "",
        manufacturer=dev.get("manufacturer"),
        model=dev.get("model"),
        serial=dev.get("serial"),
        firmware=dev.get("firmware"),
    )
    kind = Kind(data["kind"])
    v = data["values"]
    values: BloodPressure | Glucose
    if kind is Kind.BLOOD_PRESSURE:
        values = BloodPressure(
            systolic_mmhg=v["systolic_mmhg"],
            diastolic_mmhg=v["diastolic_mmhg"],
            map_mmhg=v.get("map_mmhg"),
            pulse_bpm=v.get("pulse_bpm"),
            original_unit=v["original_unit"],
            status=frozenset(v.get("status", ())),
            user_id=v.get("user_id"),
        )
    else:
        values = Glucose(
            glucose_mgdl=v["glucose_mgdl"],
            original_unit=v["original_unit"],
            original_value=v.get("original_value"),
            sample_type=v.get("sample_type"),
            sample_location=v.get("sample_location"),
            meal=v.get("meal"),
            control_solution=bool(v.get("control_solution", False)),
            hi=bool(v.get("hi", False)),
            lo=bool(v.get("lo", False)),
            sensor_status=frozenset(v.get("sensor_status", ())),
        )
    s = data.get("subject")
    if s is not None and not _PSEUDONYM.fullmatch(str(s.get("pseudonym", ""))):
        # Guards central against a NIK (16 digits) sent where only a pseudonym may go.
        raise ValueError("subject.pseudonym must be a 64-character hex HMAC")
    subject = (
        None
        if s is None
        else Subject(
            pseudonym=s["pseudonym"],
            sealed_nik=s.get("sealed_nik"),
            consent_version=s.get("consent_version"),
            consent_at=parse_rfc3339(s["consent_at"]) if s.get("consent_at") else None,
            session_id=s.get("session_id"),
            performer=s.get("performer", "self"),
            region=s.get("region"),
            sex=Sex(s["sex"]) if s.get("sex") is not None else None,
            age_band=s.get("age_band"),
        )
    )
    a = data.get("assurance")
    assurance = (
        None
        if a is None
        else Assurance(status=AssuranceStatus(a["status"]), reasons=tuple(a["reasons"]))
    )
    return Reading(
        id=str(data["id"]),
        kind=kind,
        gateway_id=str(data["gateway_id"]),
        device=device,
        record_key=dev.get("record_key"),
        measured_at=parse_rfc3339(data["measured_at"]),
        time_quality=TimeQuality(data["time_quality"]),
        values=values,
        device_time=data.get("device_time"),
        clock_offset_s=data.get("clock_offset_s"),
        received_at=parse_rfc3339(data["received_at"]) if data.get("received_at") else None,
        site_id=data.get("site_id"),
        subject=subject,
        bound=bool(data.get("bound", False)),
        assurance=assurance,
    )


# --- the contract at central's door -------------------------------------------------------------
#
# `check_reading` is broker/reading.schema.json (and, for version 1 payloads,
# broker/reading.v1.schema.json) written as code: the same required and allowed fields, types,
# enums, lengths and patterns (tests/core/test_reading_contract.py holds them against each other
# with hypothesis). It is stricter in two places the schema cannot say: a time must be a real
# instant, not only look like one, and patterns are ASCII, matched whole.
# Reasons name the field and the rule, never the value (payloads are logged and stored).

_KINDS = frozenset(k.value for k in Kind)
_TIME_QUALITIES = frozenset(q.value for q in TimeQuality)
_TRANSPORTS = frozenset(t.value for t in Transport)
_TOP_REQUIRED = frozenset(
    ("schema", "id", "gateway_id", "kind", "measured_at", "time_quality", "device", "values")
)
_TOP_OPTIONAL_V1 = frozenset(
    ("site_id", "device_time", "clock_offset_s", "received_at", "bound", "subject")
)
_TOP_OPTIONAL = _TOP_OPTIONAL_V1 | {"assurance"}
_DEVICE_REQUIRED = frozenset(
    ("transport", "id", "manufacturer", "model", "serial", "firmware", "record_key")
)
_DEVICE_OPTIONAL = frozenset(("address",))
_BP_REQUIRED = frozenset(
    ("systolic_mmhg", "diastolic_mmhg", "map_mmhg", "pulse_bpm", "original_unit", "status")
)
_BP_OPTIONAL = frozenset(("user_id",))
_GLUCOSE_REQUIRED = frozenset(
    (
        "glucose_mgdl",
        "original_unit",
        "sample_type",
        "sample_location",
        "meal",
        "control_solution",
        "hi",
        "lo",
        "sensor_status",
    )
)
_GLUCOSE_OPTIONAL = frozenset(("original_value",))
_SUBJECT_OPTIONAL_V1 = frozenset(
    ("sealed_nik", "consent_version", "consent_at", "session_id", "performer")
)
_SUBJECT_OPTIONAL = _SUBJECT_OPTIONAL_V1 | {"region", "sex", "age_band"}
_SEXES = frozenset(s.value for s in Sex)
_ASSURANCE_STATUSES = frozenset(s.value for s in AssuranceStatus)
_ASSURANCE_KEYS = frozenset(("status", "reasons"))


def _object(value: Any, path: str, required: frozenset[str], optional: frozenset[str]) -> None:
    if not isinstance(value, dict):
        raise PayloadError(f"{path} must be an object")
    missing = required.difference(value)
    if missing:
        raise PayloadError(f"{path} lacks {', '.join(sorted(missing))}")
    # Set arithmetic in C, not a generator per key: this runs on every object of every
    # reading central takes.
    if len(value) > len(required) and not optional.issuperset(value.keys() - required):
        # The unknown key is not named: a NIK sent as a field name must not reach a log.
        raise PayloadError(f"{path} has a field the schema does not allow")


def _string(value: Any, path: str, *, nullable: bool = False) -> None:
    if not (isinstance(value, str) or (nullable and value is None)):
        raise PayloadError(f"{path} must be a string{' or null' if nullable else ''}")


def _number(value: Any, path: str) -> None:
    # JSON Schema's "number": bool is not one, although Python's bool is an int.
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise PayloadError(f"{path} must be a number or null")


def _boolean(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        raise PayloadError(f"{path} must be true or false")


def _choice(value: Any, path: str, allowed: frozenset[str]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise PayloadError(f"{path} must be one of {', '.join(sorted(allowed))}")


def _flags(value: Any, path: str) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PayloadError(f"{path} must be a list of strings")
    if len(set(value)) != len(value):
        raise PayloadError(f"{path} must not repeat a flag")


def _instant(value: Any, path: str) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise PayloadError(f"{path} must be an RFC 3339 time or null")
    try:
        parse_rfc3339(value)
    except ValueError as exc:
        raise PayloadError(f"{path} must be an RFC 3339 time with a zone") from exc


def _check_values(kind: str, v: Any) -> None:
    if kind == Kind.BLOOD_PRESSURE:
        _object(v, "values", _BP_REQUIRED, _BP_OPTIONAL)
        for name in ("systolic_mmhg", "diastolic_mmhg", "map_mmhg", "pulse_bpm"):
            _number(v[name], f"values.{name}")
        _choice(v["original_unit"], "values.original_unit", frozenset(("mmHg", "kPa")))
        _flags(v["status"], "values.status")
        user = v.get("user_id")
        # JSON Schema's "integer" is any number without a fraction (1.0 is one).
        if user is not None and (
            isinstance(user, bool)
            or not isinstance(user, int | float)
            or (isinstance(user, float) and not user.is_integer())
        ):
            raise PayloadError("values.user_id must be an integer or null")
        return
    _object(v, "values", _GLUCOSE_REQUIRED, _GLUCOSE_OPTIONAL)
    _number(v["glucose_mgdl"], "values.glucose_mgdl")
    _number(v.get("original_value"), "values.original_value")
    _choice(v["original_unit"], "values.original_unit", frozenset(("mg/dL", "mmol/L")))
    for name in ("sample_type", "sample_location", "meal"):
        _string(v[name], f"values.{name}", nullable=True)
    for name in ("control_solution", "hi", "lo"):
        _boolean(v[name], f"values.{name}")
    _flags(v["sensor_status"], "values.sensor_status")


def _check_subject_v2(subject: dict[str, Any]) -> None:
    region = subject.get("region")
    if region is not None and not (isinstance(region, str) and is_region(region)):
        raise PayloadError("subject.region must be six digits or null")
    sex = subject.get("sex")
    if sex is not None:
        _choice(sex, "subject.sex", _SEXES)
    band = subject.get("age_band")
    if band is not None:
        _choice(band, "subject.age_band", AGE_BAND_LABELS)


def _check_assurance(value: Any) -> None:
    if value is None:
        return
    _object(value, "assurance", _ASSURANCE_KEYS, frozenset())
    _choice(value["status"], "assurance.status", _ASSURANCE_STATUSES)
    reasons = value["reasons"]
    _flags(reasons, "assurance.reasons")
    if len(reasons) > ASSURANCE_REASONS_MAX:
        raise PayloadError(f"assurance.reasons must hold at most {ASSURANCE_REASONS_MAX} codes")
    if not all(is_reason_code(reason) for reason in reasons):
        raise PayloadError("assurance.reasons must be short codes of a-z, 0-9 and '_'")


def check_reading(data: Any) -> None:
    """Raise PayloadError unless `data` is a valid reading of a version in SCHEMA_READINGS
    (see the note above)."""
    # The one-pass test first (every valid reading passes it); the rule by rule check only
    # for what it refuses, to find the first rule broken and name it.
    if not reading_is_valid(data):
        check_reading_by_rule(data)


def check_reading_by_rule(data: Any) -> None:
    """`check_reading` one rule at a time: raises PayloadError naming the first rule broken.

    This is the statement of the contract the reasons come from; `reading_is_valid` is the
    same rules folded into one pass, held equal to this by tests/core/test_payload_check.py.
    """
    if isinstance(data, dict) and data.get("schema") == SCHEMA_READING_V1:
        version_1 = True
        top_optional, subject_optional = _TOP_OPTIONAL_V1, _SUBJECT_OPTIONAL_V1
    else:
        version_1 = False
        top_optional, subject_optional = _TOP_OPTIONAL, _SUBJECT_OPTIONAL
    _object(data, "reading", _TOP_REQUIRED, top_optional)
    if data["schema"] not in SCHEMA_READINGS:
        raise PayloadError(f"schema must be one of {', '.join(SCHEMA_READINGS)}")
    id_ = data["id"]
    if not isinstance(id_, str) or not 1 <= len(id_) <= ID_MAX_CHARS:
        raise PayloadError(f"id must be a string of 1 to {ID_MAX_CHARS} characters")
    gateway_id = data["gateway_id"]
    if not isinstance(gateway_id, str) or not _GATEWAY_ID.fullmatch(gateway_id):
        raise PayloadError("gateway_id must be letters, digits, '_' or '-'")
    _string(data.get("site_id"), "site_id", nullable=True)
    _choice(data["kind"], "kind", _KINDS)
    measured_at = data["measured_at"]
    if not isinstance(measured_at, str) or not _MEASURED_AT.fullmatch(measured_at):
        raise PayloadError("measured_at must be RFC 3339 UTC ending in Z")
    _instant(measured_at, "measured_at")
    _choice(data["time_quality"], "time_quality", _TIME_QUALITIES)
    _string(data.get("device_time"), "device_time", nullable=True)
    _number(data.get("clock_offset_s"), "clock_offset_s")
    _instant(data.get("received_at"), "received_at")
    if "bound" in data:
        _boolean(data["bound"], "bound")
    device = data["device"]
    _object(device, "device", _DEVICE_REQUIRED, _DEVICE_OPTIONAL)
    _choice(device["transport"], "device.transport", _TRANSPORTS)
    if not isinstance(device["id"], str) or not device["id"]:
        raise PayloadError("device.id must be a non-empty string")
    for name in ("address", "manufacturer", "model", "serial", "firmware", "record_key"):
        _string(device.get(name), f"device.{name}", nullable=True)
    _check_values(data["kind"], data["values"])
    subject = data.get("subject")
    if subject is not None:
        _object(subject, "subject", frozenset(("pseudonym",)), subject_optional)
        pseudonym = subject["pseudonym"]
        if not isinstance(pseudonym, str) or not _PSEUDONYM.fullmatch(pseudonym):
            # Guards central against a NIK (16 digits) sent where only a pseudonym may go.
            raise PayloadError("subject.pseudonym must be a 64-character hex HMAC")
        for name in ("sealed_nik", "consent_version", "session_id"):
            _string(subject.get(name), f"subject.{name}", nullable=True)
        _instant(subject.get("consent_at"), "subject.consent_at")
        if "performer" in subject:
            _string(subject["performer"], "subject.performer")
        if not version_1:
            _check_subject_v2(subject)
    if not version_1:
        _check_assurance(data.get("assurance"))


# --- the same contract in one pass ---------------------------------------------------------------
#
# `check_reading_by_rule` calls a helper per field (~25 calls a reading, each building its
# reason's path string): two thirds of central's parse (bench/RESULTS.md, central ingest).
# `reading_is_valid` walks each object once, with the allowed key sets precomputed, exact type
# tests and no call per field, and answers only yes or no; the reasons stay the rule by rule
# check's. Exact `type(...) is` tests are stricter than the rules' isinstance for subclasses
# (a str subclass, an int subclass): such data is not JSON as parsed, and goes the slow way.

_TOP_ALLOWED = _TOP_REQUIRED | _TOP_OPTIONAL
_TOP_ALLOWED_V1 = _TOP_REQUIRED | _TOP_OPTIONAL_V1
_DEVICE_ALLOWED = _DEVICE_REQUIRED | _DEVICE_OPTIONAL
_DEVICE_TEXT = ("manufacturer", "model", "serial", "firmware", "record_key")  # required
_BP_ALLOWED = _BP_REQUIRED | _BP_OPTIONAL
_BP_NUMBERS = ("systolic_mmhg", "diastolic_mmhg", "map_mmhg", "pulse_bpm")
_BP_UNITS = frozenset(("mmHg", "kPa"))
_GLUCOSE_ALLOWED = _GLUCOSE_REQUIRED | _GLUCOSE_OPTIONAL
_GLUCOSE_UNITS = frozenset(("mg/dL", "mmol/L"))
_SUBJECT_REQUIRED = frozenset(("pseudonym",))
_SUBJECT_ALLOWED = _SUBJECT_REQUIRED | _SUBJECT_OPTIONAL
_SUBJECT_ALLOWED_V1 = _SUBJECT_REQUIRED | _SUBJECT_OPTIONAL_V1
_SUBJECT_TEXT = ("sealed_nik", "consent_version", "session_id")
_INF = float("inf")
_GATEWAY_IDS_KEPT = 100_000
_gateway_ids_seen: set[str] = set()  # only ids `_GATEWAY_ID` matched
_gateway_id_ok = _GATEWAY_ID.fullmatch
_measured_at_ok = _MEASURED_AT.fullmatch
_pseudonym_ok = _PSEUDONYM.fullmatch
_fromisoformat = datetime.fromisoformat


def _instant_ok(value: Any) -> bool:
    # `_instant` as a yes/no (only for the optional times, mostly null).
    if value is None:
        return True
    if type(value) is not str:
        return False
    try:
        parse_rfc3339(value)
    except (ValueError, OverflowError):
        return False
    return True


def reading_is_valid(data: Any) -> bool:
    """True when `check_reading_by_rule` accepts `data` and every number the `Reading` model
    takes is finite (the one rule of the model's the schema lacks); False otherwise.

    A pass, not a second statement of the contract: the same rules in one walk, so a change
    to the contract is made in both (the property test fails until it is).
    """
    if type(data) is not dict:
        return False
    try:
        return _one_pass(data)
    except KeyError:
        # A required field is missing: every one is read below by subscript, which is the
        # test (a set comparison per object cost more than the rest of its checks).
        return False


def _one_pass(data: dict[str, Any]) -> bool:
    # Each test below mirrors one of check_reading_by_rule's, in the same order; an object's
    # keys are tested against its allowed set here, its required keys where they are read.
    x: Any  # each field in turn
    schema = data["schema"]
    if schema == SCHEMA_READING:
        version_1 = False
        if not data.keys() <= _TOP_ALLOWED:
            return False
    elif schema == SCHEMA_READING_V1:
        version_1 = True
        if not data.keys() <= _TOP_ALLOWED_V1:
            return False
    else:
        return False
    x = data["id"]
    if type(x) is not str or not 1 <= len(x) <= ID_MAX_CHARS:
        return False
    x = data["gateway_id"]
    if type(x) is not str:
        return False
    if x not in _gateway_ids_seen:
        if _gateway_id_ok(x) is None:
            return False
        # One city's gateways are few and send for years: remember the ids the pattern took
        # (a set lookup against a regular expression per reading), up to a bound.
        if len(_gateway_ids_seen) >= _GATEWAY_IDS_KEPT:
            _gateway_ids_seen.clear()
        _gateway_ids_seen.add(x)
    x = data.get("site_id")
    if x is not None and type(x) is not str:
        return False
    kind = data["kind"]
    if type(kind) is not str or kind not in _KINDS:
        return False
    x = data["measured_at"]
    if type(x) is not str or _measured_at_ok(x) is None:
        return False
    try:
        # The pattern ends it in the only Z: offset +00:00, so no zone can move it out of range.
        _fromisoformat(x.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return False
    x = data["time_quality"]
    if type(x) is not str or x not in _TIME_QUALITIES:
        return False
    x = data.get("device_time")
    if x is not None and type(x) is not str:
        return False
    x = data.get("clock_offset_s")
    t = type(x)
    if t is float:
        if not -_INF < x < _INF:  # NaN fails both comparisons
            return False
    elif t is not int and x is not None:
        return False
    x = data.get("received_at")
    if x is not None and not _instant_ok(x):
        return False
    if "bound" in data and type(data["bound"]) is not bool:
        return False

    device = data["device"]
    if type(device) is not dict:
        return False
    if not device.keys() <= _DEVICE_ALLOWED:
        return False
    x = device["transport"]
    if type(x) is not str or x not in _TRANSPORTS:
        return False
    x = device["id"]
    if type(x) is not str or not x:
        return False
    x = device.get("address")
    if x is not None and type(x) is not str:
        return False
    for name in _DEVICE_TEXT:
        x = device[name]
        if x is not None and type(x) is not str:
            return False

    v = data["values"]
    if type(v) is not dict:
        return False
    if kind == "blood_pressure":
        if not v.keys() <= _BP_ALLOWED:
            return False
        for name in _BP_NUMBERS:
            x = v[name]
            t = type(x)
            if t is float:
                if not -_INF < x < _INF:
                    return False
            elif t is not int and x is not None:
                return False
        x = v["original_unit"]
        if type(x) is not str or x not in _BP_UNITS:
            return False
        x = v["status"]
        if type(x) is not list or (x and not _flags_ok(x)):
            return False
        x = v.get("user_id")
        t = type(x)
        if not (x is None or t is int or (t is float and x.is_integer())):
            return False
    else:
        if not v.keys() <= _GLUCOSE_ALLOWED:
            return False
        for x in (v["glucose_mgdl"], v.get("original_value")):
            t = type(x)
            if t is float:
                if not -_INF < x < _INF:
                    return False
            elif t is not int and x is not None:
                return False
        x = v["original_unit"]
        if type(x) is not str or x not in _GLUCOSE_UNITS:
            return False
        x = v["sample_type"]
        if x is not None and type(x) is not str:
            return False
        x = v["sample_location"]
        if x is not None and type(x) is not str:
            return False
        x = v["meal"]
        if x is not None and type(x) is not str:
            return False
        if not (
            type(v["control_solution"]) is bool and type(v["hi"]) is bool and type(v["lo"]) is bool
        ):
            return False
        x = v["sensor_status"]
        if type(x) is not list or (x and not _flags_ok(x)):
            return False

    subject = data.get("subject")
    if subject is not None and not _subject_ok(subject, version_1):
        return False
    if not version_1:
        assurance = data.get("assurance")
        if assurance is not None and not _assurance_ok(assurance):
            return False
    return True


def _flags_ok(items: list[Any]) -> bool:
    # A non-empty list (the empty one, the usual case, is tested inline).
    for item in items:
        if type(item) is not str:
            return False
    return len(set(items)) == len(items)


def _subject_ok(subject: Any, version_1: bool) -> bool:
    if type(subject) is not dict:
        return False
    if not subject.keys() <= (_SUBJECT_ALLOWED_V1 if version_1 else _SUBJECT_ALLOWED):
        return False
    x = subject["pseudonym"]
    if type(x) is not str or _pseudonym_ok(x) is None:
        return False
    for name in _SUBJECT_TEXT:
        x = subject.get(name)
        if x is not None and type(x) is not str:
            return False
    if not _instant_ok(subject.get("consent_at")):
        return False
    if "performer" in subject and type(subject["performer"]) is not str:
        return False
    if version_1:
        return True
    x = subject.get("region")
    if x is not None and not (type(x) is str and is_region(x)):
        return False
    x = subject.get("sex")
    if x is not None and not (type(x) is str and x in _SEXES):
        return False
    x = subject.get("age_band")
    return x is None or (type(x) is str and x in AGE_BAND_LABELS)


def _assurance_ok(assurance: Any) -> bool:
    if type(assurance) is not dict or assurance.keys() != _ASSURANCE_KEYS:
        return False
    x = assurance["status"]
    if type(x) is not str or x not in _ASSURANCE_STATUSES:
        return False
    reasons = assurance["reasons"]
    if type(reasons) is not list:
        return False
    if not reasons:
        return True
    return (
        _flags_ok(reasons)
        and len(reasons) <= ASSURANCE_REASONS_MAX
        and all(is_reason_code(reason) for reason in reasons)
    )


def decode_reading(payload: bytes) -> tuple[Reading, dict[str, Any]]:
    """Bytes from the readings topic -> (Reading, the parsed JSON), or PayloadError.

    Any input gives one or the other. orjson, not json: it takes only UTF-8 (json.loads also
    reads UTF-16 and -32, which then cannot be stored as the text it claims to be), refuses a
    lone surrogate that SQLite could not encode, and stops nesting at 1,024 levels with a
    decode error instead of a RecursionError.
    """
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"not UTF-8 JSON ({exc})") from exc
    check_reading(data)
    try:
        return from_payload(data), data
    except (ValueError, KeyError, TypeError) as exc:
        # check_reading admits only what from_payload reads; this is the second line.
        raise PayloadError(f"reading refused by the model: {type(exc).__name__}") from exc
