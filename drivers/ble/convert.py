"""From decoded BLE measurements to the gateway's value types (`core.reading`).

Units and rounding (chosen here, used everywhere):
- kPa -> mmHg: × 7.50062, rounded to 1 decimal, half up. mmHg values are passed through
  unrounded (they are what the monitor displayed).
- Glucose kg/L -> mg/dL: × 100 000, exact in decimal (the SFLOAT is decimal), then rounded to 1
  decimal half up. `original_unit` "mg/dL", `original_value` the same number.
- Glucose mol/L -> mmol/L: × 1000 (exact); -> mg/dL: mmol/L × 18.016 (molar mass of glucose,
  180.16 g/mol), rounded to 1 decimal half up. `original_unit` "mmol/L", `original_value` the
  mmol/L number.
- A special SFLOAT (NaN, NRes, ±INF, RFU) gives None for that value.
- HI/LO (status bit 5/6 or ±INF): `glucose_mgdl` None, `hi`/`lo` set; `original_value` keeps
  a finite number if the meter sent one.
- Control solution (type 10 or location 4): `control_solution=True`, sample_type
  "control_solution". Whether to keep such a record is `quirks.drop_reason`'s call.

Names are lowercase snake_case, from the tables in `drivers.ble.bp` / `drivers.ble.glucose`:
sample_type: capillary_whole_blood, capillary_plasma, venous_whole_blood, venous_plasma,
arterial_whole_blood, arterial_plasma, undetermined_whole_blood, undetermined_plasma,
interstitial_fluid, control_solution (reserved codes -> None); sample_location: finger,
alternate_site_test, earlobe, control_solution ("not available" and reserved codes -> None);
meal: preprandial, postprandial, fasting, casual, bedtime (others -> None, or a quirk's name);
BP status: body_movement, cuff_loose, irregular_pulse, pulse_out_of_range (+ pulse_above_range
or pulse_below_range), pulse_range_reserved, improper_position; glucose sensor_status:
battery_low, sensor_malfunction, sample_size_insufficient, strip_insertion_error,
strip_type_incorrect, result_too_high, result_too_low, temperature_too_high,
temperature_too_low, read_interrupted, general_device_fault, time_fault.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from core.reading import BloodPressure, Glucose
from core.units import MGDL_PER_MMOLL, MMHG_PER_KPA
from drivers.ble.bp import USER_ID_UNKNOWN, BloodPressureMeasurement, PressureUnit
from drivers.ble.glucose import (
    SAMPLE_LOCATION_NOT_AVAILABLE,
    GlucoseContext,
    GlucoseMeasurement,
    GlucoseUnit,
)
from drivers.ble.ieee11073 import Numeric
from drivers.ble.quirks import Quirk, meal_name
from drivers.errors import UsageError

_ONE_DECIMAL = Decimal("0.1")


def _round1(value: Decimal) -> float:
    return float(value.quantize(_ONE_DECIMAL, rounding=ROUND_HALF_UP))


def _pressure_mmhg(number: Numeric, unit: PressureUnit) -> float | None:
    exact = number.decimal
    if exact is None:
        return None
    if unit is PressureUnit.KPA:
        return _round1(exact * MMHG_PER_KPA)
    return float(exact)


def bp_values(m: BloodPressureMeasurement) -> BloodPressure:
    return BloodPressure(
        systolic_mmhg=_pressure_mmhg(m.systolic, m.unit),
        diastolic_mmhg=_pressure_mmhg(m.diastolic, m.unit),
        map_mmhg=_pressure_mmhg(m.mean_arterial_pressure, m.unit),
        pulse_bpm=m.pulse_rate.value if m.pulse_rate is not None else None,
        original_unit=m.unit.value,
        status=m.status_names,
        user_id=None if m.user_id == USER_ID_UNKNOWN else m.user_id,
    )


def glucose_values(
    m: GlucoseMeasurement, context: GlucoseContext | None = None, *, quirk: Quirk | None = None
) -> Glucose:
    """The Glucose values of one record and (optionally) its context, matched by sequence."""
    if context is not None and context.sequence_number != m.sequence_number:
        raise UsageError(
            f"context {context.sequence_number} does not belong to record {m.sequence_number}"
        )
    hi, lo = m.is_high, m.is_low
    mgdl: float | None = None
    original_value: float | None = None
    exact = m.concentration.decimal if m.concentration is not None else None
    if m.unit is GlucoseUnit.MOL_PER_L:
        original_unit = "mmol/L"
        if exact is not None:
            mmol = exact.scaleb(3)
            original_value = float(mmol)
            mgdl = _round1(mmol * MGDL_PER_MMOLL)
    else:
        original_unit = "mg/dL"
        if exact is not None:
            mgdl = _round1(exact.scaleb(5))
            original_value = mgdl
    if hi or lo:
        mgdl = None
    location = m.sample_location
    return Glucose(
        glucose_mgdl=mgdl,
        original_unit=original_unit,
        original_value=original_value,
        sample_type="control_solution" if m.is_control_solution else m.sample_type_name,
        sample_location=(
            None if location == SAMPLE_LOCATION_NOT_AVAILABLE else m.sample_location_name
        ),
        meal=meal_name(context, quirk),
        control_solution=m.is_control_solution,
        hi=hi,
        lo=lo,
        sensor_status=m.sensor_status_names,
    )
