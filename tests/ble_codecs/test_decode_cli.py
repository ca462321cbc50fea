from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ble import decode_cli, uuids
from drivers.ble.decode_cli import (
    DECODABLE,
    UnknownCharacteristicError,
    decode_characteristic,
    parse_hex,
)
from drivers.errors import DecodeError, UsageError

from .strategies import attempt

BPM = "1e 78 00 50 00 5d 00 e9 07 01 0f 0e 1e 2d 48 00 01 05 00"


@pytest.mark.parametrize(
    "char",
    [
        "2a35",
        "0x2A35",
        "2A35",
        "00002a35-0000-1000-8000-00805f9b34fb",
        "00002A35-0000-1000-8000-00805F9B34FB",
        "blood_pressure_measurement",
        "Blood Pressure Measurement",
        "bp_measurement",
    ],
)
def test_every_spelling_of_a_characteristic(char: str) -> None:
    assert decode_characteristic(char, BPM) == {
        "characteristic": "blood_pressure_measurement",
        "uuid": "00002a35-0000-1000-8000-00805f9b34fb",
        "unit": "mmHg",
        "systolic": {"value": 120.0, "special": None},
        "diastolic": {"value": 80.0, "special": None},
        "mean_arterial_pressure": {"value": 93.0, "special": None},
        "time_stamp": {
            "year": 2025,
            "month": 1,
            "day": 15,
            "hours": 14,
            "minutes": 30,
            "seconds": 45,
            "iso": "2025-01-15T14:30:45",
        },
        "pulse_rate": {"value": 72.0, "special": None},
        "user_id": 1,
        "status": 5,
        "status_flags": ["body_movement", "irregular_pulse"],
        "reserved_flags": 0,
    }


@pytest.mark.parametrize(
    "hex_text", ["78 00", "7800", "78:00", "0x7800", " 78-00 ", "78\n00"]
)
def test_hex_spellings(hex_text: str) -> None:
    assert parse_hex(hex_text) == b"\x78\x00"


@pytest.mark.parametrize("hex_text", ["7", "zz", "78 0", "0x7"])
def test_malformed_hex(hex_text: str) -> None:
    with pytest.raises(DecodeError):
        parse_hex(hex_text)


def test_empty_hex_is_no_bytes() -> None:
    assert parse_hex("0x") == b""
    assert parse_hex("") == b""


def test_short_frame_is_decode_error() -> None:
    with pytest.raises(DecodeError):
        decode_characteristic("2a35", "1e 78 00")
    with pytest.raises(DecodeError):
        decode_characteristic("2a18", "")
    with pytest.raises(DecodeError):
        decode_characteristic("2a35", "xyz")


@pytest.mark.parametrize("char", ["2a99", "heart_rate", "battery_level", "not a uuid", "2a19"])
def test_unknown_characteristic(char: str) -> None:
    with pytest.raises(UnknownCharacteristicError) as info:
        decode_characteristic(char, "00")
    assert isinstance(info.value, UsageError)


def test_beurer_quirk_switch() -> None:
    data = "56 83 00 54 00 00 00 ea 07 03 02 07 05 09 00 4d 02 00 04"
    result = decode_characteristic("2a35", data, quirk="beurer_bm")
    assert result["pulse_rate"] == {"value": 77.0, "special": None}
    assert result["user_id"] == 2
    assert result["status_flags"] == ["irregular_pulse"]
    assert result["reserved_flags"] == 0x40
    with pytest.raises(UsageError):
        decode_characteristic("2a35", data, quirk="nope")


# Golden 0x2A36 frames from Nordic's Android-BLE-Common-Library unit tests
# (ble-common/src/test/java/no/nordicsemi/android/ble/common/callback/bps/
# IntermediateCuffPressureDataCallbackTest.java, commit 1c86e44c): `_full` asserts body
# movement, cuff too loose, irregular pulse, pulse in range and improper position for status
# 0x0027; `_some` asserts cuff too loose and pulse below range for 0x0012, in kPa.
ICP_NORDIC_FULL = "1e 04 00 00 00 00 00 00 00 04 11 14 29 3b 3c 00 01 27 00"
ICP_NORDIC_SOME = "15 6f f0 00 00 00 00 3c 00 12 00"


def test_icp_names_the_status_flags_like_the_measurement() -> None:
    assert decode_characteristic("2a36", ICP_NORDIC_FULL) == {
        "characteristic": "intermediate_cuff_pressure",
        "uuid": "00002a36-0000-1000-8000-00805f9b34fb",
        "unit": "mmHg",
        "cuff_pressure": {"value": 4.0, "special": None},
        "time_stamp": {
            "year": None, "month": 4, "day": 17, "hours": 20, "minutes": 41, "seconds": 59,
            "iso": None,
        },
        "pulse_rate": {"value": 60.0, "special": None},
        "user_id": 1,
        "status": 0x27,
        "status_flags": ["body_movement", "cuff_loose", "improper_position", "irregular_pulse"],
        "reserved_flags": 0,
    }
    some = decode_characteristic("icp", ICP_NORDIC_SOME)
    assert some["unit"] == "kPa"
    assert some["cuff_pressure"] == {"value": 11.1, "special": None}
    assert some["pulse_rate"] == {"value": 60.0, "special": None}
    assert some["user_id"] is None
    assert some["status"] == 0x12
    assert some["status_flags"] == ["cuff_loose", "pulse_below_range", "pulse_out_of_range"]


def test_icp_and_measurement_name_the_same_status_the_same_way() -> None:
    # The spec gives both characteristics one Measurement Status field: for every status value,
    # the same frame read as 0x2A35 and as 0x2A36 must name the same flags.
    for status in range(0x40):
        wire = f"10 78 00 50 00 5d 00 {status:02x} 00"
        assert (
            decode_characteristic("2a36", wire)["status_flags"]
            == decode_characteristic("2a35", wire)["status_flags"]
        )


# One vector per decodable characteristic, with the complete expected payload (minus the
# "characteristic"/"uuid" header, checked separately).
EXPECTED: dict[str, tuple[str, dict[str, object]]] = {
    "intermediate_cuff_pressure": (
        "00 64 00 ff 07 ff 07",
        {
            "unit": "mmHg",
            "cuff_pressure": {"value": 100.0, "special": None},
            "time_stamp": None,
            "pulse_rate": None,
            "user_id": None,
            "status": None,
            "status_flags": [],
            "reserved_flags": 0,
        },
    ),
    "blood_pressure_feature": (
        "05 00",
        {"raw": 5, "features": ["body_movement_detection", "irregular_pulse_detection"]},
    ),
    "glucose_measurement": (
        "1b 05 00 e9 07 01 0f 0e 1e 2d fb ff fe 07 1a 20 00",
        {
            "sequence_number": 5,
            "base_time": {
                "year": 2025, "month": 1, "day": 15, "hours": 14, "minutes": 30,
                "seconds": 45, "iso": "2025-01-15T14:30:45",
            },
            "time_offset_minutes": -5,
            "user_facing_time": "2025-01-15T14:25:45",
            "concentration": {"value": None, "special": "+inf"},
            "unit": "kg/L",
            "sample_type": 10,
            "sample_type_name": "control_solution",
            "sample_location": 1,
            "sample_location_name": "finger",
            "sensor_status": 0x20,
            "sensor_status_flags": ["result_too_high"],
            "context_follows": True,
            "reserved_flags": 0,
            "control_solution": True,
            "hi": True,
            "lo": False,
        },
    ),
    "glucose_measurement_context": (
        "42 05 00 02 3e f0",
        {
            "sequence_number": 5,
            "extended_flags": None,
            "carbohydrate_id": None,
            "carbohydrate_name": None,
            "carbohydrate_kg": None,
            "meal": 2,
            "meal_name": "postprandial",
            "tester": None,
            "tester_name": None,
            "health": None,
            "health_name": None,
            "exercise_duration_s": None,
            "exercise_intensity_pct": None,
            "medication_id": None,
            "medication_name": None,
            "medication": None,
            "medication_unit": "kg",
            "hba1c_pct": {"value": 6.2, "special": None},
        },
    ),
    "glucose_feature": ("00 04", {"raw": 0x400, "features": ["multiple_bonds"]}),
    "date_time": (
        "00 00 00 00 0c 00 00",
        {
            "date_time": {
                "year": None, "month": None, "day": None, "hours": 12, "minutes": 0,
                "seconds": 0, "iso": None,
            }
        },
    ),
    "day_date_time": (
        "e9 07 01 0f 0e 1e 2d 03",
        {
            "date_time": {
                "year": 2025, "month": 1, "day": 15, "hours": 14, "minutes": 30,
                "seconds": 45, "iso": "2025-01-15T14:30:45",
            },
            "day_of_week": 3,
            "day_name": "wednesday",
        },
    ),
    "exact_time_256": (
        "e9 07 01 0f 0e 1e 2d 00 80",
        {
            "date_time": {
                "year": 2025, "month": 1, "day": 15, "hours": 14, "minutes": 30,
                "seconds": 45, "iso": "2025-01-15T14:30:45",
            },
            "day_of_week": None,
            "day_name": None,
            "fractions256": 128,
        },
    ),
    "current_time": (
        "e9 07 01 0f 0e 1e 2d 03 21 01",
        {
            "date_time": {
                "year": 2025, "month": 1, "day": 15, "hours": 14, "minutes": 30,
                "seconds": 45, "iso": "2025-01-15T14:30:45",
            },
            "day_of_week": 3,
            "day_name": "wednesday",
            "fractions256": 33,
            "adjust_reason": 1,
            "adjust_reasons": ["manual_time_update"],
        },
    ),
    "local_time_information": (
        "20 00", {"time_zone": 32, "dst_offset": 0, "utc_offset_minutes": 480}
    ),
    "reference_time_information": (
        "04 ff 02 05",
        {
            "time_source": 4,
            "time_source_name": "manual",
            "accuracy": 255,
            "days_since_update": 2,
            "hours_since_update": 5,
        },
    ),
    "manufacturer_name_string": ("52 6f 63 68 65 00", {"value": "Roche"}),
    "model_number_string": ("55 41 2d 36 35 31", {"value": "UA-651"}),
    "serial_number_string": ("00", {"value": None}),
    "firmware_revision_string": ("31 2e 30", {"value": "1.0"}),
    "hardware_revision_string": ("41", {"value": "A"}),
    "software_revision_string": ("42 20", {"value": "B"}),
    "system_id": (
        "01 00 00 00 00 ab cd ef",
        {"manufacturer_identifier": 1, "organizationally_unique_identifier": 0xEFCDAB},
    ),
    "pnp_id": (
        "02 6d 04 2b c5 00 01",
        {
            "vendor_id_source": 2,
            "vendor_id_source_name": "usb_if",
            "vendor_id": 0x046D,
            "product_id": 0xC52B,
            "product_version": 0x0100,
        },
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_characteristic(name: str) -> None:
    wire, fields = EXPECTED[name]
    result = decode_characteristic(name, wire)
    number = uuids.NAMES[name]
    assert result == {"characteristic": name, "uuid": uuids.uuid_str(number), **fields}
    json.dumps(result)


def test_every_decodable_characteristic_has_a_vector() -> None:
    covered = set(EXPECTED) | {"blood_pressure_measurement", "record_access_control_point"}
    assert covered == set(DECODABLE)


@pytest.mark.parametrize(
    ("wire", "fields"),
    [
        ("04 01", {"direction": "request", "opcode": 4,
                   "opcode_name": "report_number_of_stored_records", "operator": 1,
                   "operator_name": "all_records", "filter_type": None,
                   "filter_type_name": None, "values": [], "raw_operand": ""}),
        ("01 03 01 0b 00", {"direction": "request", "opcode": 1,
                            "opcode_name": "report_stored_records", "operator": 3,
                            "operator_name": "greater_than_or_equal_to", "filter_type": 1,
                            "filter_type_name": "sequence_number", "values": [11],
                            "raw_operand": ""}),
        ("09 08 aa", {"direction": "request", "opcode": 9, "opcode_name": None, "operator": 8,
                      "operator_name": None, "filter_type": None, "filter_type_name": None,
                      "values": [], "raw_operand": "aa"}),
        ("05 00 0c 00", {"direction": "response", "type": "number_of_records", "count": 12}),
        ("06 00 01 01", {"direction": "response", "type": "response_code", "request_opcode": 1,
                         "request_opcode_name": "report_stored_records", "response_code": 1,
                         "response_code_name": "success", "ok": True}),
    ],
)
def test_racp_both_directions(wire: str, fields: dict[str, object]) -> None:
    assert decode_characteristic("racp", wire) == {
        "characteristic": "record_access_control_point",
        "uuid": "00002a52-0000-1000-8000-00805f9b34fb",
        **fields,
    }


def test_racp_time_filter_values_are_objects() -> None:
    result = decode_characteristic("2a52", "01 02 02 e9 07 01 0f 00 00 00")
    assert result["values"] == [
        {"year": 2025, "month": 1, "day": 15, "hours": 0, "minutes": 0, "seconds": 0,
         "iso": "2025-01-15T00:00:00"}
    ]


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(st.sampled_from(DECODABLE), st.binary(max_size=24))
def test_any_bytes_give_json_or_decode_error(name: str, data: bytes) -> None:
    result = attempt(lambda raw: decode_characteristic(name, raw.hex(" ")), data)
    if isinstance(result, DecodeError):
        assert result.reason
    else:
        assert result["characteristic"] == name
        json.dumps(result, allow_nan=False)


def test_decode_md_documents_every_field() -> None:
    doc = (Path(decode_cli.__file__).parent / "DECODE.md").read_text(encoding="utf-8")
    samples = {name: wire for name, (wire, _fields) in EXPECTED.items()}
    samples["blood_pressure_measurement"] = BPM
    samples["record_access_control_point"] = "06 00 01 01"
    keys: set[str] = set()
    for name, wire in samples.items():
        result = decode_characteristic(name, wire)
        assert name in doc
        keys.update(result)
    for request in ("01 03 01 0b 00", "05 00 0c 00"):
        keys.update(decode_characteristic("racp", request))
    missing = sorted(key for key in keys if f"`{key}`" not in doc)
    assert missing == []
