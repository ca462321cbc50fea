"""Glucose Service (0x1808): Measurement 0x2A18, Measurement Context 0x2A34, Feature 0x2A51
(PROTOCOLS.md §3.2–3.4).

Raw codes (sample type, location, meal, status bits) are kept as sent, with name tables and
helpers beside them: a value the spec calls reserved is still information for the quirk
registry (i-SENS meal 6 = ketone), so the codec never maps it away.

The type/location octet: Type is the LOW nibble, Sample Location the HIGH nibble.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from drivers.ble.datetime_codec import (
    DATE_TIME_LEN,
    BleDateTime,
    decode_date_time,
    encode_date_time,
)
from drivers.ble.ieee11073 import NAN, Numeric, Special, decode_sfloat, encode_sfloat
from drivers.errors import DecodeError, UsageError

# Measurement flags
FLAG_TIME_OFFSET = 0x01
FLAG_CONCENTRATION = 0x02
FLAG_MOL_PER_L = 0x04
FLAG_SENSOR_STATUS = 0x08
FLAG_CONTEXT_FOLLOWS = 0x10
FLAGS_RESERVED = 0xE0
MEASUREMENT_MIN_LENGTH = 10

# Context flags
CTX_CARBOHYDRATE = 0x01
CTX_MEAL = 0x02
CTX_TESTER_HEALTH = 0x04
CTX_EXERCISE = 0x08
CTX_MEDICATION = 0x10
CTX_MEDICATION_LITRES = 0x20
CTX_HBA1C = 0x40
CTX_EXTENDED_FLAGS = 0x80
CONTEXT_MIN_LENGTH = 3

EXERCISE_DURATION_OVERRUN = 0xFFFF

SAMPLE_TYPE_CONTROL_SOLUTION = 10
SAMPLE_LOCATION_CONTROL_SOLUTION = 4
SAMPLE_LOCATION_NOT_AVAILABLE = 15

STATUS_HIGH = 0x0020
STATUS_LOW = 0x0040

SAMPLE_TYPES = {
    1: "capillary_whole_blood",
    2: "capillary_plasma",
    3: "venous_whole_blood",
    4: "venous_plasma",
    5: "arterial_whole_blood",
    6: "arterial_plasma",
    7: "undetermined_whole_blood",
    8: "undetermined_plasma",
    9: "interstitial_fluid",
    10: "control_solution",
}
SAMPLE_LOCATIONS = {
    1: "finger",
    2: "alternate_site_test",
    3: "earlobe",
    4: "control_solution",
    15: "not_available",
}
SENSOR_STATUS_NAMES = {
    0x0001: "battery_low",
    0x0002: "sensor_malfunction",
    0x0004: "sample_size_insufficient",
    0x0008: "strip_insertion_error",
    0x0010: "strip_type_incorrect",
    0x0020: "result_too_high",
    0x0040: "result_too_low",
    0x0080: "temperature_too_high",
    0x0100: "temperature_too_low",
    0x0200: "read_interrupted",
    0x0400: "general_device_fault",
    0x0800: "time_fault",
}
MEALS = {1: "preprandial", 2: "postprandial", 3: "fasting", 4: "casual", 5: "bedtime"}
CARBOHYDRATE_IDS = {
    1: "breakfast",
    2: "lunch",
    3: "dinner",
    4: "snack",
    5: "drink",
    6: "supper",
    7: "brunch",
}
TESTERS = {1: "self", 2: "health_care_professional", 3: "lab_test", 15: "not_available"}
HEALTH = {
    1: "minor_health_issues",
    2: "major_health_issues",
    3: "during_menses",
    4: "under_stress",
    5: "no_health_issues",
    15: "not_available",
}
MEDICATION_IDS = {
    1: "rapid_acting_insulin",
    2: "short_acting_insulin",
    3: "intermediate_acting_insulin",
    4: "long_acting_insulin",
    5: "pre_mixed_insulin",
}


def _named(table: Mapping[int, str], code: int | None) -> str | None:
    """The name of an assigned code; None when the field is absent or the code unassigned."""
    return None if code is None else table.get(code)


FEATURE_NAMES = {
    0x0001: "low_battery_detection",
    0x0002: "sensor_malfunction_detection",
    0x0004: "sample_size",
    0x0008: "strip_insertion_error_detection",
    0x0010: "strip_type_error_detection",
    0x0020: "result_high_low_detection",
    0x0040: "temperature_high_low_detection",
    0x0080: "read_interrupt_detection",
    0x0100: "general_device_fault",
    0x0200: "time_fault",
    0x0400: "multiple_bonds",
}


class GlucoseUnit(StrEnum):
    KG_PER_L = "kg/L"
    MOL_PER_L = "mol/L"


class MedicationUnit(StrEnum):
    KILOGRAMS = "kg"
    LITRES = "L"


def sensor_status_names(status: int) -> frozenset[str]:
    """Names of the set Sensor Status Annunciation bits (RFU bits 12-15 are not named)."""
    return frozenset(name for bit, name in SENSOR_STATUS_NAMES.items() if status & bit)


def glucose_feature_names(feature: int) -> frozenset[str]:
    return frozenset(name for bit, name in FEATURE_NAMES.items() if feature & bit)


def _u16(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise UsageError(f"{what} out of 16-bit range: {value}")
    return value.to_bytes(2, "little")


def _u8(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFF:
        raise UsageError(f"{what} out of byte range: {value}")
    return bytes([value])


def _nibble(value: int, what: str) -> int:
    if not 0 <= value <= 0x0F:
        raise UsageError(f"{what} out of nibble range: {value}")
    return value


@dataclass(frozen=True, slots=True)
class GlucoseMeasurement:
    """0x2A18. `concentration` is in `unit` (kg/L or mol/L) as the meter sent it."""

    sequence_number: int
    base_time: BleDateTime
    time_offset_minutes: int | None = None  # signed; user-facing time = base time + offset
    concentration: Numeric | None = None
    unit: GlucoseUnit = GlucoseUnit.KG_PER_L  # flag bit 2, kept even without a concentration
    sample_type: int | None = None  # low nibble; set whenever concentration is
    sample_location: int | None = None  # high nibble; set whenever concentration is
    sensor_status: int | None = None
    context_follows: bool = False
    reserved_flags: int = 0  # flag bits 5-7 as sent

    def user_facing_time(self) -> datetime | None:
        """Base Time + Time Offset, the spec's intent (§3.2), as a naive local time.

        None when the base time is no real date. Overrun/underrun offsets (0x7FFF/-0x8000)
        are applied like any other: the session judges implausible results.
        """
        base = self.base_time.to_datetime()
        if base is None:
            return None
        try:
            return base + timedelta(minutes=self.time_offset_minutes or 0)
        except OverflowError:
            return None

    @property
    def sample_type_name(self) -> str | None:
        return _named(SAMPLE_TYPES, self.sample_type)

    @property
    def sample_location_name(self) -> str | None:
        return _named(SAMPLE_LOCATIONS, self.sample_location)

    @property
    def sensor_status_names(self) -> frozenset[str]:
        return sensor_status_names(self.sensor_status or 0)

    @property
    def is_control_solution(self) -> bool:
        """Type 10 or location 4: a strip test with control fluid, not a resident's blood."""
        return (
            self.sample_type == SAMPLE_TYPE_CONTROL_SOLUTION
            or self.sample_location == SAMPLE_LOCATION_CONTROL_SOLUTION
        )

    @property
    def is_high(self) -> bool:
        """Above the meter's range: status bit 5 or a +INF concentration."""
        status = self.sensor_status or 0
        return bool(status & STATUS_HIGH) or (
            self.concentration is not None
            and self.concentration.special is Special.POSITIVE_INFINITY
        )

    @property
    def is_low(self) -> bool:
        """Below the meter's range: status bit 6 or a -INF concentration."""
        status = self.sensor_status or 0
        return bool(status & STATUS_LOW) or (
            self.concentration is not None
            and self.concentration.special is Special.NEGATIVE_INFINITY
        )


def decode_glucose_measurement(data: bytes) -> GlucoseMeasurement:
    data = bytes(data)
    if not data:
        raise DecodeError("Glucose Measurement: empty frame", data, 0)
    flags = data[0]
    needed = (
        MEASUREMENT_MIN_LENGTH
        + (2 if flags & FLAG_TIME_OFFSET else 0)
        + (3 if flags & FLAG_CONCENTRATION else 0)
        + (2 if flags & FLAG_SENSOR_STATUS else 0)
    )
    if len(data) < needed:
        raise DecodeError(
            f"Glucose Measurement: flags 0x{flags:02x} need {needed} bytes, got {len(data)}",
            data,
            len(data),
        )
    sequence = int.from_bytes(data[1:3], "little")
    base_time = decode_date_time(data, 3)
    offset = 3 + DATE_TIME_LEN
    time_offset = None
    if flags & FLAG_TIME_OFFSET:
        time_offset = int.from_bytes(data[offset : offset + 2], "little", signed=True)
        offset += 2
    concentration = sample_type = sample_location = None
    if flags & FLAG_CONCENTRATION:
        concentration = decode_sfloat(data, offset)
        type_location = data[offset + 2]
        sample_type, sample_location = type_location & 0x0F, type_location >> 4
        offset += 3
    status = None
    if flags & FLAG_SENSOR_STATUS:
        status = int.from_bytes(data[offset : offset + 2], "little")
    return GlucoseMeasurement(
        sequence_number=sequence,
        base_time=base_time,
        time_offset_minutes=time_offset,
        concentration=concentration,
        unit=GlucoseUnit.MOL_PER_L if flags & FLAG_MOL_PER_L else GlucoseUnit.KG_PER_L,
        sample_type=sample_type,
        sample_location=sample_location,
        sensor_status=status,
        context_follows=bool(flags & FLAG_CONTEXT_FOLLOWS),
        reserved_flags=flags & FLAGS_RESERVED,
    )


def encode_glucose_measurement(m: GlucoseMeasurement) -> bytes:
    if m.reserved_flags & ~FLAGS_RESERVED:
        raise UsageError(f"reserved_flags may only use bits 5-7: 0x{m.reserved_flags:02x}")
    flags = (
        (FLAG_TIME_OFFSET if m.time_offset_minutes is not None else 0)
        | (FLAG_CONCENTRATION if m.concentration is not None else 0)
        | (FLAG_MOL_PER_L if m.unit is GlucoseUnit.MOL_PER_L else 0)
        | (FLAG_SENSOR_STATUS if m.sensor_status is not None else 0)
        | (FLAG_CONTEXT_FOLLOWS if m.context_follows else 0)
        | m.reserved_flags
    )
    out = bytearray([flags])
    out += _u16(m.sequence_number, "sequence number")
    out += encode_date_time(m.base_time)
    if m.time_offset_minutes is not None:
        if not -0x8000 <= m.time_offset_minutes <= 0x7FFF:
            raise UsageError(f"time offset out of sint16 range: {m.time_offset_minutes}")
        out += m.time_offset_minutes.to_bytes(2, "little", signed=True)
    if m.concentration is not None:
        out += encode_sfloat(m.concentration)
        sample_type = _nibble(m.sample_type or 0, "sample type")
        location = _nibble(m.sample_location or 0, "sample location")
        out.append(sample_type | (location << 4))
    if m.sensor_status is not None:
        out += _u16(m.sensor_status, "sensor status")
    return bytes(out)


@dataclass(frozen=True, slots=True)
class GlucoseContext:
    """0x2A34. Pair it with its measurement by `sequence_number`, never by arrival order."""

    sequence_number: int
    extended_flags: int | None = None  # all RFU
    carbohydrate_id: int | None = None  # set together with carbohydrate_kg
    carbohydrate_kg: Numeric | None = None
    meal: int | None = None  # raw; 6 = ketone on i-SENS (quirk)
    tester: int | None = None  # low nibble; set together with health
    health: int | None = None  # high nibble
    exercise_duration_s: int | None = None  # 65535 = overrun; set together with intensity
    exercise_intensity_pct: int | None = None
    medication_id: int | None = None  # set together with medication
    medication: Numeric | None = None  # in medication_unit
    medication_unit: MedicationUnit = MedicationUnit.KILOGRAMS  # flag bit 5, kept as sent
    hba1c_pct: Numeric | None = None

    @property
    def meal_name(self) -> str | None:
        return _named(MEALS, self.meal)

    @property
    def tester_name(self) -> str | None:
        return _named(TESTERS, self.tester)

    @property
    def health_name(self) -> str | None:
        return _named(HEALTH, self.health)

    @property
    def carbohydrate_name(self) -> str | None:
        return _named(CARBOHYDRATE_IDS, self.carbohydrate_id)

    @property
    def medication_name(self) -> str | None:
        return _named(MEDICATION_IDS, self.medication_id)


def decode_glucose_context(data: bytes) -> GlucoseContext:
    data = bytes(data)
    if not data:
        raise DecodeError("Glucose Measurement Context: empty frame", data, 0)
    flags = data[0]
    needed = (
        CONTEXT_MIN_LENGTH
        + (1 if flags & CTX_EXTENDED_FLAGS else 0)
        + (3 if flags & CTX_CARBOHYDRATE else 0)
        + (1 if flags & CTX_MEAL else 0)
        + (1 if flags & CTX_TESTER_HEALTH else 0)
        + (3 if flags & CTX_EXERCISE else 0)
        + (3 if flags & CTX_MEDICATION else 0)
        + (2 if flags & CTX_HBA1C else 0)
    )
    if len(data) < needed:
        raise DecodeError(
            f"Glucose Measurement Context: flags 0x{flags:02x} need {needed} bytes, "
            f"got {len(data)}",
            data,
            len(data),
        )
    sequence = int.from_bytes(data[1:3], "little")
    offset = 3
    extended = None
    if flags & CTX_EXTENDED_FLAGS:
        extended = data[offset]
        offset += 1
    carb_id = carb = None
    if flags & CTX_CARBOHYDRATE:
        carb_id = data[offset]
        carb = decode_sfloat(data, offset + 1)
        offset += 3
    meal = None
    if flags & CTX_MEAL:
        meal = data[offset]
        offset += 1
    tester = health = None
    if flags & CTX_TESTER_HEALTH:
        tester, health = data[offset] & 0x0F, data[offset] >> 4
        offset += 1
    duration = intensity = None
    if flags & CTX_EXERCISE:
        duration = int.from_bytes(data[offset : offset + 2], "little")
        intensity = data[offset + 2]
        offset += 3
    med_id = medication = None
    if flags & CTX_MEDICATION:
        med_id = data[offset]
        medication = decode_sfloat(data, offset + 1)
        offset += 3
    hba1c = None
    if flags & CTX_HBA1C:
        hba1c = decode_sfloat(data, offset)
    return GlucoseContext(
        sequence_number=sequence,
        extended_flags=extended,
        carbohydrate_id=carb_id,
        carbohydrate_kg=carb,
        meal=meal,
        tester=tester,
        health=health,
        exercise_duration_s=duration,
        exercise_intensity_pct=intensity,
        medication_id=med_id,
        medication=medication,
        medication_unit=(
            MedicationUnit.LITRES if flags & CTX_MEDICATION_LITRES else MedicationUnit.KILOGRAMS
        ),
        hba1c_pct=hba1c,
    )


def encode_glucose_context(c: GlucoseContext) -> bytes:
    has_carb = c.carbohydrate_id is not None or c.carbohydrate_kg is not None
    has_tester = c.tester is not None or c.health is not None
    has_exercise = c.exercise_duration_s is not None or c.exercise_intensity_pct is not None
    has_medication = c.medication_id is not None or c.medication is not None
    flags = (
        (CTX_CARBOHYDRATE if has_carb else 0)
        | (CTX_MEAL if c.meal is not None else 0)
        | (CTX_TESTER_HEALTH if has_tester else 0)
        | (CTX_EXERCISE if has_exercise else 0)
        | (CTX_MEDICATION if has_medication else 0)
        | (CTX_MEDICATION_LITRES if c.medication_unit is MedicationUnit.LITRES else 0)
        | (CTX_HBA1C if c.hba1c_pct is not None else 0)
        | (CTX_EXTENDED_FLAGS if c.extended_flags is not None else 0)
    )
    out = bytearray([flags])
    out += _u16(c.sequence_number, "sequence number")
    if c.extended_flags is not None:
        out += _u8(c.extended_flags, "extended flags")
    if has_carb:
        out += _u8(c.carbohydrate_id or 0, "carbohydrate id")
        out += encode_sfloat(c.carbohydrate_kg or NAN)
    if c.meal is not None:
        out += _u8(c.meal, "meal")
    if has_tester:
        tester = _nibble(c.tester or 0, "tester")
        health = _nibble(c.health or 0, "health")
        out.append(tester | (health << 4))
    if has_exercise:
        out += _u16(c.exercise_duration_s or 0, "exercise duration")
        out += _u8(c.exercise_intensity_pct or 0, "exercise intensity")
    if has_medication:
        out += _u8(c.medication_id or 0, "medication id")
        out += encode_sfloat(c.medication or NAN)
    if c.hba1c_pct is not None:
        out += encode_sfloat(c.hba1c_pct)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class GlucoseFeature:
    """0x2A51 (uint16 bits): which status bits the meter can raise; multiple bonds."""

    raw: int

    @property
    def names(self) -> frozenset[str]:
        return glucose_feature_names(self.raw)

    @property
    def multiple_bonds(self) -> bool:
        return bool(self.raw & 0x0400)


def decode_glucose_feature(data: bytes) -> GlucoseFeature:
    data = bytes(data)
    if len(data) < 2:
        raise DecodeError(f"Glucose Feature needs 2 bytes, got {len(data)}", data, 0)
    return GlucoseFeature(int.from_bytes(data[0:2], "little"))


def encode_glucose_feature(feature: GlucoseFeature) -> bytes:
    return _u16(feature.raw, "glucose feature")
