"""Decode one characteristic value from hex into a JSON-ready dict (for `gempita ble decode`).

`decode_characteristic(char, hex_text)` accepts the characteristic as '2a35', '0x2A35',
'00002a35-0000-1000-8000-00805f9b34fb' or a name such as 'blood_pressure_measurement', and hex
with optional spaces, colons, dashes or a leading '0x'. The field names per characteristic are
listed in DECODE.md next to this file. Malformed hex or a short frame raises DecodeError; an
unknown characteristic (or one we have no decoder for) raises UnknownCharacteristicError, a
UsageError. This module is pure: the CLI function that prints lives in gateway/cli/decode.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import IntEnum

from drivers.ble import uuids
from drivers.ble.bp import (
    BloodPressureMeasurement,
    bp_feature_names,
    decode_bp_feature,
    decode_bp_measurement,
    decode_intermediate_cuff_pressure,
)
from drivers.ble.datetime_codec import (
    BleDateTime,
    DayDateTime,
    decode_current_time,
    decode_date_time,
    decode_day_date_time,
    decode_exact_time_256,
    decode_local_time_information,
    decode_reference_time_information,
)
from drivers.ble.dis import decode_dis_string, decode_pnp_id, decode_system_id
from drivers.ble.glucose import (
    decode_glucose_context,
    decode_glucose_feature,
    decode_glucose_measurement,
    glucose_feature_names,
)
from drivers.ble.ieee11073 import Numeric
from drivers.ble.quirks import quirk_by_name
from drivers.ble.racp import (
    FilterType,
    NumberOfRecordsResponse,
    Opcode,
    Operator,
    ResponseCode,
    decode_racp_request,
    decode_racp_response,
)
from drivers.errors import DecodeError, UsageError

JsonDict = dict[str, object]

_SEPARATORS = re.compile(r"[\s:\-_,]")


class UnknownCharacteristicError(UsageError):
    """The characteristic named on the command line is not one we can decode."""


def parse_hex(hex_text: str) -> bytes:
    text = _SEPARATORS.sub("", hex_text.strip())
    if text[:2].lower() == "0x":
        text = text[2:]
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise DecodeError(f"malformed hex {hex_text!r}: need pairs of 0-9/a-f digits") from exc


def _numeric(n: Numeric | None) -> JsonDict | None:
    if n is None:
        return None
    return {"value": n.value, "special": n.special.value if n.special else None}


def _date_time(d: BleDateTime | None) -> JsonDict | None:
    if d is None:
        return None
    return {
        "year": d.year,
        "month": d.month,
        "day": d.day,
        "hours": d.hours,
        "minutes": d.minutes,
        "seconds": d.seconds,
        "iso": d.iso(),
    }


def _day_date_time(d: DayDateTime) -> JsonDict:
    return {"date_time": _date_time(d.date_time), "day_of_week": d.day_of_week,
            "day_name": d.day_name}


def _enum_name(value: int, kind: type[IntEnum]) -> str | None:
    try:
        return kind(value).name.lower()
    except ValueError:
        return None


def _bp_measurement(data: bytes, quirk: str | None) -> JsonDict:
    decoder: Callable[[bytes], BloodPressureMeasurement] = decode_bp_measurement
    if quirk is not None:
        chosen = quirk_by_name(quirk)
        if chosen.decode_bp is not None:
            decoder = chosen.decode_bp
    m = decoder(data)
    return {
        "unit": m.unit.value,
        "systolic": _numeric(m.systolic),
        "diastolic": _numeric(m.diastolic),
        "mean_arterial_pressure": _numeric(m.mean_arterial_pressure),
        "time_stamp": _date_time(m.time_stamp),
        "pulse_rate": _numeric(m.pulse_rate),
        "user_id": m.user_id,
        "status": m.status,
        "status_flags": sorted(m.status_names),
        "reserved_flags": m.reserved_flags,
    }


def _icp(data: bytes, _quirk: str | None) -> JsonDict:
    m = decode_intermediate_cuff_pressure(data)
    return {
        "unit": m.unit.value,
        "cuff_pressure": _numeric(m.cuff_pressure),
        "time_stamp": _date_time(m.time_stamp),
        "pulse_rate": _numeric(m.pulse_rate),
        "user_id": m.user_id,
        "status": m.status,
        "status_flags": sorted(m.status_names),
        "reserved_flags": m.reserved_flags,
    }


def _bp_feature(data: bytes, _quirk: str | None) -> JsonDict:
    f = decode_bp_feature(data)
    return {"raw": f.raw, "features": sorted(bp_feature_names(f.raw))}


def _glucose_measurement(data: bytes, _quirk: str | None) -> JsonDict:
    m = decode_glucose_measurement(data)
    user_time = m.user_facing_time()
    return {
        "sequence_number": m.sequence_number,
        "base_time": _date_time(m.base_time),
        "time_offset_minutes": m.time_offset_minutes,
        "user_facing_time": user_time.isoformat() if user_time is not None else None,
        "concentration": _numeric(m.concentration),
        "unit": m.unit.value,
        "sample_type": m.sample_type,
        "sample_type_name": m.sample_type_name,
        "sample_location": m.sample_location,
        "sample_location_name": m.sample_location_name,
        "sensor_status": m.sensor_status,
        "sensor_status_flags": sorted(m.sensor_status_names),
        "context_follows": m.context_follows,
        "reserved_flags": m.reserved_flags,
        "control_solution": m.is_control_solution,
        "hi": m.is_high,
        "lo": m.is_low,
    }


def _glucose_context(data: bytes, _quirk: str | None) -> JsonDict:
    c = decode_glucose_context(data)
    return {
        "sequence_number": c.sequence_number,
        "extended_flags": c.extended_flags,
        "carbohydrate_id": c.carbohydrate_id,
        "carbohydrate_name": c.carbohydrate_name,
        "carbohydrate_kg": _numeric(c.carbohydrate_kg),
        "meal": c.meal,
        "meal_name": c.meal_name,
        "tester": c.tester,
        "tester_name": c.tester_name,
        "health": c.health,
        "health_name": c.health_name,
        "exercise_duration_s": c.exercise_duration_s,
        "exercise_intensity_pct": c.exercise_intensity_pct,
        "medication_id": c.medication_id,
        "medication_name": c.medication_name,
        "medication": _numeric(c.medication),
        "medication_unit": c.medication_unit.value,
        "hba1c_pct": _numeric(c.hba1c_pct),
    }


def _glucose_feature(data: bytes, _quirk: str | None) -> JsonDict:
    f = decode_glucose_feature(data)
    return {"raw": f.raw, "features": sorted(glucose_feature_names(f.raw))}


def _racp(data: bytes, _quirk: str | None) -> JsonDict:
    if data and data[0] in (Opcode.NUMBER_OF_STORED_RECORDS_RESPONSE, Opcode.RESPONSE_CODE):
        response = decode_racp_response(data)
        if isinstance(response, NumberOfRecordsResponse):
            return {"direction": "response", "type": "number_of_records",
                    "count": response.count}
        return {
            "direction": "response",
            "type": "response_code",
            "request_opcode": int(response.request_opcode),
            "request_opcode_name": _enum_name(response.request_opcode, Opcode),
            "response_code": int(response.response_code),
            "response_code_name": _enum_name(response.response_code, ResponseCode),
            "ok": response.ok,
        }
    request = decode_racp_request(data)
    values: list[object] = [
        _date_time(v) if isinstance(v, BleDateTime) else v for v in request.values
    ]
    return {
        "direction": "request",
        "opcode": int(request.opcode),
        "opcode_name": _enum_name(request.opcode, Opcode),
        "operator": int(request.operator),
        "operator_name": _enum_name(request.operator, Operator),
        "filter_type": None if request.filter_type is None else int(request.filter_type),
        "filter_type_name": (
            None if request.filter_type is None else _enum_name(request.filter_type, FilterType)
        ),
        "values": values,
        "raw_operand": request.raw_operand.hex(),
    }


def _date_time_char(data: bytes, _quirk: str | None) -> JsonDict:
    return {"date_time": _date_time(decode_date_time(data))}


def _day_date_time_char(data: bytes, _quirk: str | None) -> JsonDict:
    return _day_date_time(decode_day_date_time(data))


def _exact_time(data: bytes, _quirk: str | None) -> JsonDict:
    e = decode_exact_time_256(data)
    return {**_day_date_time(e.day_date_time), "fractions256": e.fractions256}


def _current_time(data: bytes, _quirk: str | None) -> JsonDict:
    c = decode_current_time(data)
    return {
        **_day_date_time(c.exact_time.day_date_time),
        "fractions256": c.fractions256,
        "adjust_reason": c.adjust_reason,
        "adjust_reasons": list(c.adjust_reasons),
    }


def _local_time(data: bytes, _quirk: str | None) -> JsonDict:
    t = decode_local_time_information(data)
    offset = t.utc_offset
    return {
        "time_zone": t.time_zone,
        "dst_offset": t.dst_offset,
        "utc_offset_minutes": None if offset is None else int(offset.total_seconds() // 60),
    }


def _reference_time(data: bytes, _quirk: str | None) -> JsonDict:
    r = decode_reference_time_information(data)
    return {
        "time_source": r.time_source,
        "time_source_name": r.time_source_name,
        "accuracy": r.accuracy,
        "days_since_update": r.days_since_update,
        "hours_since_update": r.hours_since_update,
    }


def _dis_string(data: bytes, _quirk: str | None) -> JsonDict:
    return {"value": decode_dis_string(data)}


def _system_id(data: bytes, _quirk: str | None) -> JsonDict:
    s = decode_system_id(data)
    return {
        "manufacturer_identifier": s.manufacturer_identifier,
        "organizationally_unique_identifier": s.organizationally_unique_identifier,
    }


def _pnp_id(data: bytes, _quirk: str | None) -> JsonDict:
    p = decode_pnp_id(data)
    return {
        "vendor_id_source": p.vendor_id_source,
        "vendor_id_source_name": p.vendor_id_source_name,
        "vendor_id": p.vendor_id,
        "product_id": p.product_id,
        "product_version": p.product_version,
    }


_DECODERS: dict[int, Callable[[bytes, str | None], JsonDict]] = {
    uuids.BLOOD_PRESSURE_MEASUREMENT: _bp_measurement,
    uuids.INTERMEDIATE_CUFF_PRESSURE: _icp,
    uuids.BLOOD_PRESSURE_FEATURE: _bp_feature,
    uuids.GLUCOSE_MEASUREMENT: _glucose_measurement,
    uuids.GLUCOSE_MEASUREMENT_CONTEXT: _glucose_context,
    uuids.GLUCOSE_FEATURE: _glucose_feature,
    uuids.RECORD_ACCESS_CONTROL_POINT: _racp,
    uuids.DATE_TIME: _date_time_char,
    uuids.DAY_DATE_TIME: _day_date_time_char,
    uuids.EXACT_TIME_256: _exact_time,
    uuids.CURRENT_TIME: _current_time,
    uuids.LOCAL_TIME_INFORMATION: _local_time,
    uuids.REFERENCE_TIME_INFORMATION: _reference_time,
    uuids.MANUFACTURER_NAME_STRING: _dis_string,
    uuids.MODEL_NUMBER_STRING: _dis_string,
    uuids.SERIAL_NUMBER_STRING: _dis_string,
    uuids.HARDWARE_REVISION_STRING: _dis_string,
    uuids.FIRMWARE_REVISION_STRING: _dis_string,
    uuids.SOFTWARE_REVISION_STRING: _dis_string,
    uuids.SYSTEM_ID: _system_id,
    uuids.PNP_ID: _pnp_id,
}

DECODABLE: tuple[str, ...] = tuple(sorted(uuids.BY_UUID[u] for u in _DECODERS))


def decode_characteristic(
    char: str, hex_text: str, *, quirk: str | None = None
) -> dict[str, object]:
    """Decode `hex_text` as characteristic `char`; see DECODE.md for the fields.

    `quirk` (a quirk name such as "beurer_bm") switches to that family's 0x2A35 decoder.
    """
    try:
        number = uuids.resolve(char)
    except UsageError as exc:
        raise UnknownCharacteristicError(str(exc)) from exc
    decoder = _DECODERS.get(number)
    if decoder is None:
        raise UnknownCharacteristicError(
            f"no decoder for {uuids.BY_UUID.get(number, char)}; decodable: {', '.join(DECODABLE)}"
        )
    data = parse_hex(hex_text)
    result: dict[str, object] = {
        "characteristic": uuids.BY_UUID[number],
        "uuid": uuids.uuid_str(number),
    }
    result.update(decoder(data, quirk))
    return result
