from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ble.datetime_codec import BleDateTime
from drivers.ble.glucose import (
    GlucoseContext,
    GlucoseFeature,
    GlucoseMeasurement,
    GlucoseUnit,
    MedicationUnit,
    decode_glucose_context,
    decode_glucose_feature,
    decode_glucose_measurement,
    encode_glucose_context,
    encode_glucose_feature,
    encode_glucose_measurement,
    sensor_status_names,
)
from drivers.ble.ieee11073 import NAN, Numeric, Special
from drivers.errors import DecodeError, UsageError

from .strategies import attempt, date_times, sfloats, u8, u16

BASE = ("e9 07 01 0f 0e 1e 2d", BleDateTime(2025, 1, 15, 14, 30, 45))
OFFSET = ("fb ff", -5)  # sint16: five minutes back
KG_PER_L = ("62 b0", Numeric(98, -5))  # 98 mg/dL
MOL_PER_L = ("37 c0", Numeric(55, -4))  # 5.5 mmol/L
TYPE_LOCATION = ("21", 1, 2)  # LOW nibble type 1 (capillary whole blood), HIGH location 2 (AST)
STATUS = ("01 08", 0x0801)  # battery low, time fault


@pytest.mark.parametrize(
    "flags", list(range(0x20)), ids=[f"flags_{f:02x}" for f in range(0x20)]
)
def test_glucose_measurement_every_flag_combination(flags: int) -> None:
    wire = f"{flags:02x} 2a 01 {BASE[0]}"
    offset = concentration = sample_type = location = status = None
    if flags & 0x01:
        wire += " " + OFFSET[0]
        offset = OFFSET[1]
    if flags & 0x02:
        value = MOL_PER_L if flags & 0x04 else KG_PER_L
        wire += f" {value[0]} {TYPE_LOCATION[0]}"
        concentration = value[1]
        sample_type, location = TYPE_LOCATION[1], TYPE_LOCATION[2]
    if flags & 0x08:
        wire += " " + STATUS[0]
        status = STATUS[1]
    data = bytes.fromhex(wire)
    expected = GlucoseMeasurement(
        sequence_number=0x012A,
        base_time=BASE[1],
        time_offset_minutes=offset,
        concentration=concentration,
        unit=GlucoseUnit.MOL_PER_L if flags & 0x04 else GlucoseUnit.KG_PER_L,
        sample_type=sample_type,
        sample_location=location,
        sensor_status=status,
        context_follows=bool(flags & 0x10),
    )
    assert decode_glucose_measurement(data) == expected
    assert decode_glucose_measurement(data + b"\x00\x11") == expected
    assert encode_glucose_measurement(expected) == data
    with pytest.raises(DecodeError) as info:
        decode_glucose_measurement(data[:-1])
    assert info.value.data == data[:-1]


def test_glucose_measurement_full_golden() -> None:
    data = bytes.fromhex("1b 05 00 e9 07 01 0f 0e 1e 2d fb ff 62 b0 11 00 00")
    m = decode_glucose_measurement(data)
    assert m == GlucoseMeasurement(
        sequence_number=5,
        base_time=BleDateTime(2025, 1, 15, 14, 30, 45),
        time_offset_minutes=-5,
        concentration=Numeric(98, -5),
        unit=GlucoseUnit.KG_PER_L,
        sample_type=1,
        sample_location=1,
        sensor_status=0,
        context_follows=True,
    )
    assert m.user_facing_time() == datetime(2025, 1, 15, 14, 25, 45)
    assert m.sample_type_name == "capillary_whole_blood"
    assert m.sample_location_name == "finger"
    assert not m.is_control_solution
    assert not m.is_high
    assert not m.is_low


def test_nibble_order_type_low_location_high() -> None:
    m = decode_glucose_measurement(bytes.fromhex("02 01 00 e9 07 01 0f 0e 1e 2d 62 b0 f4"))
    assert (m.sample_type, m.sample_location) == (4, 15)
    assert m.sample_type_name == "venous_plasma"
    assert m.sample_location_name == "not_available"


@pytest.mark.parametrize(
    ("type_location", "control"),
    [("1a", True), ("41", True), ("11", False), ("f0", False), ("0b", False)],
)
def test_control_solution_by_type_or_location(type_location: str, control: bool) -> None:
    data = bytes.fromhex(f"02 01 00 e9 07 01 0f 0e 1e 2d 62 b0 {type_location}")
    assert decode_glucose_measurement(data).is_control_solution is control


@pytest.mark.parametrize(
    ("concentration", "status", "high", "low"),
    [
        ("fe 07", "00 00", True, False),  # +INF
        ("02 08", "00 00", False, True),  # -INF
        ("62 b0", "20 00", True, False),  # status bit 5
        ("62 b0", "40 00", False, True),  # status bit 6
        ("00 08", "00 00", False, False),  # NRes alone says neither
        ("62 b0", "00 00", False, False),
    ],
)
def test_hi_lo(concentration: str, status: str, high: bool, low: bool) -> None:
    data = bytes.fromhex(f"0a 01 00 e9 07 01 0f 0e 1e 2d {concentration} 11 {status}")
    m = decode_glucose_measurement(data)
    assert (m.is_high, m.is_low) == (high, low)


def test_sensor_status_names_every_bit() -> None:
    assert sensor_status_names(0xFFFF) == {
        "battery_low",
        "sensor_malfunction",
        "sample_size_insufficient",
        "strip_insertion_error",
        "strip_type_incorrect",
        "result_too_high",
        "result_too_low",
        "temperature_too_high",
        "temperature_too_low",
        "read_interrupted",
        "general_device_fault",
        "time_fault",
    }
    assert sensor_status_names(0x0004) == {"sample_size_insufficient"}
    assert sensor_status_names(0x0400) == {"general_device_fault"}
    assert sensor_status_names(0xF000) == frozenset()


def test_user_facing_time_edge_cases() -> None:
    unknown = GlucoseMeasurement(1, BleDateTime(None, 1, 1))
    assert unknown.user_facing_time() is None
    month13 = GlucoseMeasurement(1, BleDateTime(2024, 13, 1))
    assert month13.user_facing_time() is None
    no_offset = GlucoseMeasurement(1, BleDateTime(2024, 2, 29, 23, 59, 0))
    assert no_offset.user_facing_time() == datetime(2024, 2, 29, 23, 59)
    overrun = GlucoseMeasurement(1, BleDateTime(2024, 2, 29), time_offset_minutes=0x7FFF)
    assert overrun.user_facing_time() == datetime(2024, 3, 22, 18, 7)
    near_min = GlucoseMeasurement(1, BleDateTime(1, 1, 1), time_offset_minutes=-0x8000)
    assert near_min.user_facing_time() is None


@pytest.mark.parametrize("wire", ["", "02", "00 01 00 e9 07 01 0f 0e 1e"])
def test_glucose_measurement_short(wire: str) -> None:
    with pytest.raises(DecodeError):
        decode_glucose_measurement(bytes.fromhex(wire))


# Context pieces in wire order (PROTOCOLS.md §3.3), flag bit -> (hex, fields).
CONTEXT_PIECES: list[tuple[int, str, dict[str, object]]] = [
    (0x80, "00", {"extended_flags": 0}),
    (0x01, "02 32 b0", {"carbohydrate_id": 2, "carbohydrate_kg": Numeric(50, -5)}),
    (0x02, "01", {"meal": 1}),
    (0x04, "51", {"tester": 1, "health": 5}),
    (0x08, "10 0e 50", {"exercise_duration_s": 3600, "exercise_intensity_pct": 80}),
    (0x10, "01 0a d0", {"medication_id": 1, "medication": Numeric(10, -3)}),
    (0x40, "3e f0", {"hba1c_pct": Numeric(62, -1)}),
]


@pytest.mark.parametrize(
    "flags", list(range(0x100)), ids=[f"flags_{f:02x}" for f in range(0x100)]
)
def test_glucose_context_every_flag_combination(flags: int) -> None:
    wire = f"{flags:02x} 2a 01"
    fields: dict[str, object] = {}
    for bit, piece, values in CONTEXT_PIECES:
        if flags & bit:
            wire += " " + piece
            fields.update(values)
    data = bytes.fromhex(wire)
    unit = MedicationUnit.LITRES if flags & 0x20 else MedicationUnit.KILOGRAMS
    expected = GlucoseContext(sequence_number=0x012A, medication_unit=unit, **fields)  # type: ignore[arg-type]
    assert decode_glucose_context(data) == expected
    assert decode_glucose_context(data + b"\xff") == expected
    assert encode_glucose_context(expected) == data
    if len(data) > 3:
        with pytest.raises(DecodeError):
            decode_glucose_context(data[:-1])


def test_glucose_context_names() -> None:
    c = decode_glucose_context(bytes.fromhex("1f 07 00 03 32 b0 03 f2 3c 00 32 05 0a d0"))
    assert c == GlucoseContext(
        sequence_number=7,
        carbohydrate_id=3,
        carbohydrate_kg=Numeric(50, -5),
        meal=3,
        tester=2,
        health=15,
        exercise_duration_s=60,
        exercise_intensity_pct=50,
        medication_id=5,
        medication=Numeric(10, -3),
    )
    assert c.carbohydrate_name == "dinner"
    assert c.meal_name == "fasting"
    assert c.tester_name == "health_care_professional"
    assert c.health_name == "not_available"
    assert c.medication_name == "pre_mixed_insulin"


def test_glucose_context_ketone_meal_is_kept_raw() -> None:
    c = decode_glucose_context(bytes.fromhex("02 09 00 06"))
    assert c == GlucoseContext(sequence_number=9, meal=6)
    assert c.meal_name is None


def test_glucose_context_short() -> None:
    for wire in ("", "02 09", "02 09 00", "c0 01 00 00"):
        with pytest.raises(DecodeError):
            decode_glucose_context(bytes.fromhex(wire))


def test_glucose_feature() -> None:
    f = decode_glucose_feature(bytes.fromhex("ff 07"))
    assert f == GlucoseFeature(0x07FF)
    assert f.multiple_bonds
    assert "result_high_low_detection" in f.names
    assert len(f.names) == 11
    assert not decode_glucose_feature(bytes.fromhex("20 00")).multiple_bonds
    assert encode_glucose_feature(f) == bytes.fromhex("ff 07")
    with pytest.raises(DecodeError):
        decode_glucose_feature(b"\x00")


def test_encoder_rejects_misuse() -> None:
    with pytest.raises(UsageError):
        encode_glucose_measurement(GlucoseMeasurement(0x10000, BleDateTime(2025, 1, 1)))
    with pytest.raises(UsageError):
        encode_glucose_measurement(
            GlucoseMeasurement(1, BleDateTime(2025, 1, 1), time_offset_minutes=0x8000)
        )
    with pytest.raises(UsageError):
        encode_glucose_measurement(
            GlucoseMeasurement(1, BleDateTime(2025, 1, 1), concentration=NAN, sample_type=16)
        )
    with pytest.raises(UsageError):
        encode_glucose_context(GlucoseContext(1, tester=16))


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(st.binary(max_size=24))
def test_glucose_codecs_any_bytes(data: bytes) -> None:
    m = attempt(decode_glucose_measurement, data)
    if isinstance(m, DecodeError):
        assert m.data == data
    else:
        assert data.startswith(encode_glucose_measurement(m))
    c = attempt(decode_glucose_context, data)
    if isinstance(c, DecodeError):
        assert c.data == data
    else:
        assert data.startswith(encode_glucose_context(c))
    f = attempt(decode_glucose_feature, data)
    if not isinstance(f, DecodeError):
        assert encode_glucose_feature(f) == data[:2]


nibbles = st.integers(0, 15)


@st.composite
def measurements(draw: st.DrawFn) -> GlucoseMeasurement:
    concentration = draw(st.none() | sfloats)
    return GlucoseMeasurement(
        sequence_number=draw(u16),
        base_time=draw(date_times),
        time_offset_minutes=draw(st.none() | st.integers(-0x8000, 0x7FFF)),
        concentration=concentration,
        unit=draw(st.sampled_from(GlucoseUnit)),
        sample_type=None if concentration is None else draw(nibbles),
        sample_location=None if concentration is None else draw(nibbles),
        sensor_status=draw(st.none() | u16),
        context_follows=draw(st.booleans()),
        reserved_flags=draw(st.sampled_from([0, 0x20, 0xE0])),
    )


@st.composite
def contexts(draw: st.DrawFn) -> GlucoseContext:
    carb = draw(st.booleans())
    tester = draw(st.booleans())
    exercise = draw(st.booleans())
    medication = draw(st.booleans())
    return GlucoseContext(
        sequence_number=draw(u16),
        extended_flags=draw(st.none() | u8),
        carbohydrate_id=draw(u8) if carb else None,
        carbohydrate_kg=draw(sfloats) if carb else None,
        meal=draw(st.none() | u8),
        tester=draw(nibbles) if tester else None,
        health=draw(nibbles) if tester else None,
        exercise_duration_s=draw(u16) if exercise else None,
        exercise_intensity_pct=draw(u8) if exercise else None,
        medication_id=draw(u8) if medication else None,
        medication=draw(sfloats) if medication else None,
        medication_unit=draw(st.sampled_from(MedicationUnit)),
        hba1c_pct=draw(st.none() | sfloats),
    )


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(measurements())
def test_glucose_measurement_object_round_trip(m: GlucoseMeasurement) -> None:
    assert decode_glucose_measurement(encode_glucose_measurement(m)) == m


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(contexts())
def test_glucose_context_object_round_trip(c: GlucoseContext) -> None:
    assert decode_glucose_context(encode_glucose_context(c)) == c


def test_specials_survive_in_context() -> None:
    c = GlucoseContext(1, hba1c_pct=Numeric.of_special(Special.NRES))
    assert decode_glucose_context(encode_glucose_context(c)) == c
