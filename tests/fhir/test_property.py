"""Any reading the contract allows maps to valid FHIR, or to a typed error that says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from central.fhir.bundle import entries_for, transaction_bundle
from central.fhir.errors import SubjectError, UnmappableReadingError
from central.fhir.settings import FhirSettings
from core.reading import (
    BloodPressure,
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    Subject,
    TimeQuality,
    Transport,
)
from tests.fhir.helpers import stored, validate

text = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=12)
maybe_text = st.none() | text
number = st.none() | st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-1000, 1000)
flags = st.frozensets(
    st.sampled_from(["body_movement", "cuff_loose", "irregular_pulse", "improper_position"]) | text,
    max_size=4,
)
devices = st.builds(
    DeviceIdentity,
    transport=st.sampled_from(Transport),
    address=text,
    manufacturer=maybe_text,
    model=maybe_text,
    serial=maybe_text,
    firmware=maybe_text,
)
blood_pressure = st.builds(
    BloodPressure,
    systolic_mmhg=number,
    diastolic_mmhg=number,
    map_mmhg=number,
    pulse_bpm=number,
    status=flags,
)
glucose = st.builds(
    Glucose,
    glucose_mgdl=number,
    original_unit=st.sampled_from(["mg/dL", "mmol/L"]),
    meal=st.none() | st.sampled_from(["fasting", "casual", "preprandial", "postprandial"]),
    control_solution=st.booleans(),
    hi=st.booleans(),
    lo=st.booleans(),
    sensor_status=flags,
)
subjects = st.none() | st.builds(
    Subject,
    pseudonym=st.text("0123456789abcdef", min_size=64, max_size=64),
    performer=st.sampled_from(["self", "kader:ani"]) | st.builds("kader:{}".format, text),
)


@st.composite
def readings(draw: st.DrawFn) -> Reading:
    values = draw(blood_pressure | glucose)
    return Reading(
        id=draw(st.text("abcdef0123456789-", min_size=1, max_size=40)),
        kind=Kind.BLOOD_PRESSURE if isinstance(values, BloodPressure) else Kind.GLUCOSE,
        gateway_id=draw(st.text("abcXYZ019_-", min_size=1, max_size=20)),
        device=draw(devices),
        record_key=draw(maybe_text),
        measured_at=datetime(2020, 1, 1, tzinfo=UTC)
        + timedelta(milliseconds=draw(st.integers(0, 10**11))),
        time_quality=draw(st.sampled_from(TimeQuality)),
        values=values,
        subject=draw(subjects),
    )


SETTINGS = [
    FhirSettings(organization_id="100"),
    FhirSettings(organization_id="100", location_id="l", encounter_id="e", bp_profile="panel"),
]


def _mappable(reading: Reading) -> bool:
    values = reading.values
    if isinstance(values, BloodPressure):
        return values.systolic_mmhg is not None and values.diastolic_mmhg is not None
    return values.glucose_mgdl is not None or values.hi or values.lo


@settings(max_examples=300, deadline=None)
@given(readings(), st.sampled_from(SETTINGS))
def test_any_valid_reading_maps_to_valid_resources(reading: Reading, fhir: FhirSettings) -> None:
    row = stored(reading)
    control = isinstance(reading.values, Glucose) and reading.values.control_solution
    performer_ok = (
        reading.subject is None
        or reading.subject.performer == "self"
        or (reading.subject.performer.startswith("kader:") and len(reading.subject.performer) > 6)
    )
    try:
        entries = entries_for(row, fhir)
    except SubjectError:
        assert reading.subject is None and not control
        return
    except UnmappableReadingError:
        assert not control and not (_mappable(reading) and performer_ok)
        return
    if control:
        assert entries == []
        return
    assert _mappable(reading) and performer_ok
    for entry in entries:
        validate(entry["resource"])
    validate(transaction_bundle(entries))
    observations = [e for e in entries if e["request"]["url"] == "Observation"]
    assert observations
    assert all(reading.id in e["request"]["ifNoneExist"] for e in observations)
