"""gempita.reading/2 and the compatibility rule: gateways build version 2, central reads 1 and 2.

Goldens in tests/core/goldens/ pin both versions' shapes: the version 1 files were built by the
gateway before version 2 existed (commit a9e4789), so decoding them proves a gateway not yet
updated keeps delivering.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import PayloadError
from core.payload import check_reading, decode_reading, encode_reading, from_payload, to_payload
from core.reading import (
    AGE_BANDS,
    SCHEMA_READING,
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
    age_band,
    reading_id,
)

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = Path(__file__).resolve().parent / "goldens"
V2 = jsonschema.Draft202012Validator(
    json.loads((ROOT / "broker" / "reading.schema.json").read_text())
)
V1 = jsonschema.Draft202012Validator(
    json.loads((ROOT / "broker" / "reading.v1.schema.json").read_text())
)

METER = DeviceIdentity(
    Transport.BLE, "c8:fd:19:20:00:01", "Ascensia", "Contour Next One", "7830H", "2.1"
)
CUFF = DeviceIdentity(Transport.BLE, "00:5f:bf:11:22:33", "OMRON", "HEM-7142T1", None, None)
KADER_SUBJECT = Subject(
    pseudonym="ab" * 32,
    sealed_nik="AQID",
    consent_version="2026.1",
    consent_at=datetime(2026, 11, 27, 1, 0, tzinfo=UTC),
    session_id="s1",
    performer="kader:kader01",
    region="647103",
    sex=Sex.FEMALE,
    age_band="40-49",
)
RESIDENT_SUBJECT = Subject(
    pseudonym="cd" * 32,
    sealed_nik="BAUG",
    consent_version="2026.1-wali",
    consent_at=datetime(2026, 11, 27, 0, 59, tzinfo=UTC),
    session_id="v7",
    region="317104",
    sex=Sex.MALE,
    age_band="15-19",
)


def glucose(subject: Subject | None, assurance: Assurance | None = None) -> Reading:
    return Reading(
        id=reading_id(METER, "17"),
        kind=Kind.GLUCOSE,
        gateway_id="gw-001",
        device=METER,
        record_key="17",
        measured_at=datetime(2026, 11, 27, 1, 2, 3, 456000, tzinfo=UTC),
        time_quality=TimeQuality.DEVICE_CLOCK,
        values=Glucose(112.0, "mg/dL", 112.0, "capillary_whole_blood", "finger", "fasting"),
        device_time="2026-11-27T09:03:38",
        clock_offset_s=95.0,
        received_at=datetime(2026, 11, 27, 1, 5, tzinfo=UTC),
        site_id="kios-1",
        subject=subject,
        bound=subject is not None,
        assurance=assurance,
    )


def bp(subject: Subject | None) -> Reading:
    return Reading(
        id=reading_id(CUFF, None, fallback="2026-11-27T09:00:00|128/84"),
        kind=Kind.BLOOD_PRESSURE,
        gateway_id="gw-001",
        device=CUFF,
        record_key=None,
        measured_at=datetime(2026, 11, 27, 1, 0, tzinfo=UTC),
        time_quality=TimeQuality.SYNCED,
        values=BloodPressure(128.0, 84.0, 98.7, 70.0, "mmHg", frozenset({"body_movement"}), 1),
        device_time="2026-11-27T09:00:00",
        clock_offset_s=0.4,
        received_at=datetime(2026, 11, 27, 1, 0, 5, tzinfo=UTC),
        site_id="kios-1",
        subject=subject,
        bound=subject is not None,
    )


V2_GOLDENS = {
    "reading_v2_glucose_kader.json": glucose(
        KADER_SUBJECT,
        Assurance(AssuranceStatus.OUT_OF_POLICY, ("strips_expired", "control_test_missing")),
    ),
    "reading_v2_glucose_unbound.json": glucose(None),
    "reading_v2_bp_resident.json": bp(RESIDENT_SUBJECT),
    "reading_v2_bp_unbound.json": bp(None),
}
V1_GOLDENS = ("reading_v1_glucose_subject.json", "reading_v1_bp_unbound.json")


def golden(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDENS / name).read_text())
    return data


@pytest.mark.parametrize("name", sorted(V2_GOLDENS))
def test_v2_goldens_are_what_the_gateway_builds_and_validate(name: str) -> None:
    reading = V2_GOLDENS[name]
    payload = to_payload(reading)
    assert payload == golden(name)
    assert payload["schema"] == SCHEMA_READING == "gempita.reading/2"
    V2.validate(payload)
    assert not V1.is_valid(payload)  # a version 2 payload is not a version 1 one
    back, data = decode_reading(encode_reading(reading))
    assert back == reading and data == payload


def test_v2_subject_carries_the_cascade_fields_and_nothing_finer() -> None:
    subject = golden("reading_v2_bp_resident.json")["subject"]
    assert subject["region"] == "317104"
    assert subject["sex"] == "male"
    assert subject["age_band"] == "15-19"
    assert set(subject) == {
        "pseudonym",
        "sealed_nik",
        "consent_version",
        "consent_at",
        "session_id",
        "performer",
        "region",
        "sex",
        "age_band",
    }
    assert golden("reading_v2_bp_unbound.json")["assurance"] is None
    assert golden("reading_v2_glucose_kader.json")["assurance"] == {
        "status": "out_of_policy",
        "reasons": ["strips_expired", "control_test_missing"],
    }


@pytest.mark.parametrize("name", V1_GOLDENS)
def test_v1_goldens_still_validate_and_decode(name: str) -> None:
    payload = golden(name)
    assert payload["schema"] == "gempita.reading/1"
    V1.validate(payload)
    assert not V2.is_valid(payload)
    check_reading(payload)
    reading, data = decode_reading(orjson.dumps(payload))
    assert data == payload  # what central stores is what was sent
    assert reading.assurance is None
    if reading.subject is not None:
        assert (reading.subject.region, reading.subject.sex, reading.subject.age_band) == (
            None,
            None,
            None,
        )
    # Read as version 1, rebuilt as version 2: the same reading, the new fields null.
    rebuilt = to_payload(reading)
    V2.validate(rebuilt)
    assert from_payload(rebuilt) == reading


def test_v1_payload_read_equals_the_v2_reading_without_the_new_fields() -> None:
    v1 = from_payload(golden("reading_v1_glucose_subject.json"))
    assert v1.subject is not None
    v2 = glucose(
        dataclasses.replace(KADER_SUBJECT, region=None, sex=None, age_band=None), assurance=None
    )
    assert v1 == v2


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda p: p["subject"].update(region="64710"), "region of five digits"),
        (lambda p: p["subject"].update(region="6471031708850003"), "a whole NIK as region"),
        (lambda p: p["subject"].update(region="６４７１０３"), "full-width digits"),
        (lambda p: p["subject"].update(sex="f"), "sex not female/male"),
        (lambda p: p["subject"].update(age_band="41"), "an age, not a band"),
        (lambda p: p["subject"].update(birth_date="1985-08-17"), "a birth date field"),
        (lambda p: p.update(assurance={"status": "bad"}), "assurance without reasons"),
        (lambda p: p.update(assurance={"status": "ok", "reasons": ["ok", "ok"]}), "repeated"),
        (lambda p: p.update(assurance={"status": "ok", "reasons": ["Strips expired"]}), "prose"),
        (lambda p: p.update(assurance={"status": "ok", "reasons": ["a" * 41]}), "long"),
        (
            lambda p: p.update(assurance={"status": "ok", "reasons": [f"r{i}" for i in range(17)]}),
            "too many reasons",
        ),
        (lambda p: p.update(assurance={"status": "ok", "reasons": [], "x": 1}), "extra key"),
        (lambda p: p.update(schema="gempita.reading/3"), "a version central has not seen"),
        (lambda p: p.update(schema="gempita.reading/1"), "v2 fields under the v1 name"),
    ],
)
def test_bad_v2_payloads_are_refused_by_schema_and_decoder(mutate: Any, why: str) -> None:
    payload = golden("reading_v2_glucose_kader.json")
    mutate(payload)
    assert not V2.is_valid(payload) and not V1.is_valid(payload), why
    with pytest.raises(PayloadError):
        decode_reading(orjson.dumps(payload))


def test_v1_refuses_the_v2_fields() -> None:
    payload = golden("reading_v1_glucose_subject.json")
    for extra in ({"assurance": None},):
        assert not V1.is_valid(payload | extra)
        with pytest.raises(PayloadError, match="field the schema does not allow"):
            check_reading(payload | extra)
    payload["subject"]["region"] = "647103"
    assert not V1.is_valid(payload)
    with pytest.raises(PayloadError, match="subject has a field"):
        check_reading(payload)


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (0, "<15"),
        (14, "<15"),
        (15, "15-19"),
        (19, "15-19"),
        (20, "20-29"),
        (29, "20-29"),
        (39, "30-39"),
        (40, "40-49"),
        (59, "50-59"),
        (60, "60-69"),
        (69, "60-69"),
        (70, "70+"),
        (120, "70+"),
    ],
)
def test_age_band_edges(age: int, band: str) -> None:
    assert age_band(age) == band


def test_age_bands_have_the_programme_edges_and_a_negative_age_is_refused() -> None:
    edges = [edge for edge, _label in AGE_BANDS]
    assert {15, 40, 60} <= set(edges) and edges == sorted(edges)
    with pytest.raises(ValueError, match="negative"):
        age_band(-1)


def test_model_refuses_what_the_contract_refuses() -> None:
    with pytest.raises(ValueError, match="region"):
        Subject(pseudonym="ab" * 32, region="6471031708850003")
    with pytest.raises(ValueError, match="age_band"):
        Subject(pseudonym="ab" * 32, age_band="42")
    with pytest.raises(ValueError, match="short codes"):
        Assurance(AssuranceStatus.UNKNOWN, ("no spaces please",))


subjects = st.none() | st.builds(
    Subject,
    pseudonym=st.text("0123456789abcdef", min_size=64, max_size=64),
    sealed_nik=st.none() | st.text(max_size=20),
    consent_version=st.none() | st.text(max_size=10),
    consent_at=st.none()
    | st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000)),
    session_id=st.none() | st.text(max_size=10),
    performer=st.sampled_from(["self", "kader:kader01"]),
    region=st.none() | st.text("0123456789", min_size=6, max_size=6),
    sex=st.none() | st.sampled_from(list(Sex)),
    age_band=st.none() | st.sampled_from([label for _edge, label in AGE_BANDS]),
)
assurances = st.none() | st.builds(
    Assurance,
    status=st.sampled_from(list(AssuranceStatus)),
    reasons=st.lists(
        st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=40),
        unique=True,
        max_size=16,
    ).map(tuple),
)


# No deadline: six helpers share two cores, and this is a correctness test, not a timed one.
@settings(deadline=None)
@given(
    subject=subjects,
    assurance=assurances,
    kind=st.sampled_from(list(Kind)),
    offset_ms=st.integers(0, 10**10),
)
def test_any_v2_reading_validates_and_round_trips(
    subject: Subject | None, assurance: Assurance | None, kind: Kind, offset_ms: int
) -> None:
    base = glucose(subject, assurance) if kind is Kind.GLUCOSE else bp(subject)
    reading = dataclasses.replace(
        base,
        measured_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=offset_ms),
        assurance=assurance,
    )
    payload = json.loads(encode_reading(reading))
    V2.validate(payload)
    check_reading(payload)
    back, _data = decode_reading(encode_reading(reading))
    assert back == reading
