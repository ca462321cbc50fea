from __future__ import annotations

import pytest

from core.reading import BloodPressure, Glucose
from drivers.ble import quirks
from drivers.ble.bp import BloodPressureMeasurement, PressureUnit, decode_bp_measurement
from drivers.ble.convert import bp_values, glucose_values
from drivers.ble.datetime_codec import BleDateTime
from drivers.ble.glucose import (
    GlucoseContext,
    GlucoseMeasurement,
    GlucoseUnit,
    decode_glucose_measurement,
)
from drivers.ble.ieee11073 import NAN, Numeric, Special
from drivers.errors import UsageError

WHEN = BleDateTime(2026, 5, 1, 8, 0, 0)


def test_bp_mmhg_from_wire() -> None:
    m = decode_bp_measurement(
        bytes.fromhex("1e 7d 00 52 00 5f 00 ea 07 03 02 07 05 09 41 00 02 0d 00")
    )
    assert bp_values(m) == BloodPressure(
        systolic_mmhg=125.0,
        diastolic_mmhg=82.0,
        map_mmhg=95.0,
        pulse_bpm=65.0,
        original_unit="mmHg",
        status=frozenset({"body_movement", "irregular_pulse", "pulse_above_range",
                          "pulse_out_of_range"}),
        user_id=2,
    )


def test_bp_kpa_rounded_to_one_decimal() -> None:
    m = BloodPressureMeasurement(
        systolic=Numeric(176, -1),  # 17.6 kPa = 132.010912 mmHg
        diastolic=Numeric(106, -1),  # 10.6 kPa = 79.506572
        mean_arterial_pressure=Numeric(124, -1),  # 12.4 kPa = 93.007688
        unit=PressureUnit.KPA,
        pulse_rate=Numeric(72, 0),
        user_id=255,
    )
    assert bp_values(m) == BloodPressure(
        systolic_mmhg=132.0,
        diastolic_mmhg=79.5,
        map_mmhg=93.0,
        pulse_bpm=72.0,
        original_unit="kPa",
        status=frozenset(),
        user_id=None,
    )


def test_bp_half_up_rounding() -> None:
    # 2 kPa = 15.00124 mmHg; 0.2 kPa = 1.500124 -> 1.5; 1 kPa = 7.50062 -> 7.5
    m = BloodPressureMeasurement(
        Numeric(2, 0), Numeric(2, -1), Numeric(1, 0), unit=PressureUnit.KPA
    )
    values = bp_values(m)
    assert (values.systolic_mmhg, values.diastolic_mmhg, values.map_mmhg) == (15.0, 1.5, 7.5)


def test_bp_specials_become_none() -> None:
    m = BloodPressureMeasurement(
        Numeric(120, 0), Numeric(80, 0), NAN, pulse_rate=Numeric.of_special(Special.NRES)
    )
    assert bp_values(m) == BloodPressure(120.0, 80.0, None, None, "mmHg", frozenset(), None)


def test_glucose_kg_per_l() -> None:
    m = decode_glucose_measurement(
        bytes.fromhex("1b 05 00 e9 07 01 0f 0e 1e 2d fb ff 62 b0 11 01 00")
    )
    context = GlucoseContext(5, meal=1)
    assert glucose_values(m, context) == Glucose(
        glucose_mgdl=98.0,
        original_unit="mg/dL",
        original_value=98.0,
        sample_type="capillary_whole_blood",
        sample_location="finger",
        meal="preprandial",
        control_solution=False,
        hi=False,
        lo=False,
        sensor_status=frozenset({"battery_low"}),
    )


def test_glucose_mol_per_l() -> None:
    m = GlucoseMeasurement(
        1, WHEN, concentration=Numeric(55, -4), unit=GlucoseUnit.MOL_PER_L, sample_type=2,
        sample_location=15,
    )
    # 5.5 mmol/L × 18.016 = 99.088 mg/dL
    assert glucose_values(m) == Glucose(
        glucose_mgdl=99.1,
        original_unit="mmol/L",
        original_value=5.5,
        sample_type="capillary_plasma",
        sample_location=None,
    )


def test_glucose_hi_by_status_keeps_finite_original() -> None:
    m = GlucoseMeasurement(
        2, WHEN, concentration=Numeric(600, -5), sample_type=1, sample_location=1,
        sensor_status=0x0020,
    )
    assert glucose_values(m) == Glucose(
        glucose_mgdl=None,
        original_unit="mg/dL",
        original_value=600.0,
        sample_type="capillary_whole_blood",
        sample_location="finger",
        hi=True,
        sensor_status=frozenset({"result_too_high"}),
    )


def test_glucose_lo_by_infinity() -> None:
    m = GlucoseMeasurement(
        2, WHEN, concentration=Numeric.of_special(Special.NEGATIVE_INFINITY),
        unit=GlucoseUnit.MOL_PER_L, sample_type=1, sample_location=1,
    )
    assert glucose_values(m) == Glucose(
        glucose_mgdl=None,
        original_unit="mmol/L",
        original_value=None,
        sample_type="capillary_whole_blood",
        sample_location="finger",
        lo=True,
    )


@pytest.mark.parametrize(("sample_type", "location"), [(10, 1), (1, 4), (10, 4)])
def test_glucose_control_solution(sample_type: int, location: int) -> None:
    m = GlucoseMeasurement(
        3, WHEN, concentration=Numeric(110, -5), sample_type=sample_type,
        sample_location=location,
    )
    values = glucose_values(m)
    assert values.control_solution
    assert values.sample_type == "control_solution"
    assert values.glucose_mgdl == 110.0


def test_glucose_without_concentration() -> None:
    m = GlucoseMeasurement(4, WHEN, sensor_status=0x0008)
    assert glucose_values(m) == Glucose(
        glucose_mgdl=None,
        original_unit="mg/dL",
        original_value=None,
        sensor_status=frozenset({"strip_insertion_error"}),
    )


def test_glucose_reserved_codes_have_no_names() -> None:
    m = GlucoseMeasurement(5, WHEN, concentration=Numeric(9, -4), sample_type=12,
                           sample_location=7)
    values = glucose_values(m, GlucoseContext(5, meal=9))
    assert (values.sample_type, values.sample_location, values.meal) == (None, None, None)
    assert values.glucose_mgdl == 90.0


def test_glucose_quirk_meal_names() -> None:
    m = GlucoseMeasurement(6, WHEN, concentration=Numeric(9, -4), sample_type=1,
                           sample_location=1)
    assert glucose_values(m, GlucoseContext(6, meal=6), quirk=quirks.ISENS).meal == "ketone"


def test_context_must_belong_to_the_record() -> None:
    m = GlucoseMeasurement(7, WHEN)
    with pytest.raises(UsageError):
        glucose_values(m, GlucoseContext(8, meal=1))
