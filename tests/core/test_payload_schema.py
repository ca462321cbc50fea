"""The gempita.reading/1 contract: every payload the gateway builds validates against
broker/reading.schema.json, survives a round trip, and bad payloads are rejected."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.payload import encode_reading, from_payload, rfc3339, to_payload
from core.reading import (
    BloodPressure,
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    Subject,
    TimeQuality,
    Transport,
    reading_id,
)

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "broker" / "reading.schema.json").read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
DEVICE = DeviceIdentity(
    Transport.BLE, "c8:fd:19:20:00:01", "Ascensia", "Contour Next One", "7830H", "2.1"
)


def glucose_reading(values: Glucose, subject: Subject | None = None) -> Reading:
    return Reading(
        id=reading_id(DEVICE, "17"),
        kind=Kind.GLUCOSE,
        gateway_id="gw-001",
        device=DEVICE,
        record_key="17",
        measured_at=datetime(2026, 11, 27, 1, 2, 3, 456000, tzinfo=UTC),
        time_quality=TimeQuality.DEVICE_CLOCK,
        values=values,
        device_time="2026-11-27T09:03:38",
        clock_offset_s=95.0,
        received_at=datetime(2026, 11, 27, 1, 5, tzinfo=UTC),
        site_id="kios-1",
        subject=subject,
        bound=subject is not None,
    )


def test_glucose_hi_payload_golden() -> None:
    subject = Subject(
        pseudonym="ab" * 32,
        sealed_nik="AQID",
        consent_version="2026.1",
        consent_at=datetime(2026, 11, 27, 1, 0, tzinfo=UTC),
        session_id="s1",
    )
    reading = glucose_reading(
        Glucose(None, "mg/dL", None, "capillary_whole_blood", "finger", "fasting", hi=True),
        subject,
    )
    payload = to_payload(reading)
    VALIDATOR.validate(payload)
    assert payload["measured_at"] == "2026-11-27T01:02:03.456Z"
    assert payload["device"]["id"] == "ascensia:7830H"
    assert payload["device"]["record_key"] == "17"
    assert payload["values"] == {
        "glucose_mgdl": None,
        "original_unit": "mg/dL",
        "original_value": None,
        "sample_type": "capillary_whole_blood",
        "sample_location": "finger",
        "meal": "fasting",
        "control_solution": False,
        "hi": True,
        "lo": False,
        "sensor_status": [],
    }
    assert from_payload(json.loads(encode_reading(reading))) == reading


@given(
    sys_=st.floats(40, 300, allow_nan=False),
    dia=st.floats(20, 200, allow_nan=False),
    pulse=st.none() | st.floats(20, 250, allow_nan=False),
    flags=st.frozensets(st.sampled_from(["body_movement", "irregular_pulse", "cuff_loose"])),
    quality=st.sampled_from(list(TimeQuality)),
    offset_s=st.integers(-(10**8), 10**8),
)
def test_any_bp_reading_validates_and_round_trips(
    sys_: float,
    dia: float,
    pulse: float | None,
    flags: frozenset[str],
    quality: TimeQuality,
    offset_s: int,
) -> None:
    reading = Reading(
        id=reading_id(DEVICE, None, fallback=f"{sys_}/{dia}"),
        kind=Kind.BLOOD_PRESSURE,
        gateway_id="gw-001",
        device=DEVICE,
        record_key=None,
        measured_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=offset_s),
        time_quality=quality,
        values=BloodPressure(sys_, dia, None, pulse, "kPa", flags),
    )
    encoded = encode_reading(reading)
    payload = json.loads(encoded)
    # orjson writes what the standard library would (compact, UTF-8), byte for byte.
    assert encoded == json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    VALIDATOR.validate(payload)
    back = from_payload(payload)
    # Times travel at millisecond precision; everything else exactly.
    assert back.measured_at == datetime.fromisoformat(
        rfc3339(reading.measured_at).replace("Z", "+00:00")
    )
    assert back.values == reading.values


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda p: p.pop("measured_at"), "measured_at missing"),
        (lambda p: p.update(measured_at="2026-11-27 01:02:03"), "not RFC 3339 UTC"),
        (lambda p: p.update(kind="weight"), "unknown kind"),
        (lambda p: p["device"].pop("record_key"), "device.record_key missing"),
        (lambda p: p["values"].pop("hi"), "glucose without hi flag"),
        (lambda p: p.update(nik="6471011203900001"), "extra field (a NIK must never be added)"),
        (lambda p: p["subject"].update(pseudonym="6471011203900001"), "pseudonym not hex hash"),
        (lambda p: p.update(time_quality="great"), "unknown time quality"),
    ],
)
def test_bad_payloads_are_rejected(mutate: object, why: str) -> None:
    reading = glucose_reading(Glucose(98.0), Subject(pseudonym="cd" * 32))
    payload = to_payload(reading)
    mutate(payload)  # type: ignore[operator]
    assert not VALIDATOR.is_valid(payload), why


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [
                UTC,
                timezone(timedelta(0)),  # zero offset, not the UTC object
                timezone(timedelta(hours=8)),
                timezone(timedelta(hours=-3, minutes=-30)),
            ]
        ),
    )
)
def test_rfc3339_is_the_utc_instant_in_milliseconds(moment: datetime) -> None:
    utc = moment.astimezone(UTC)
    expected = utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    assert rfc3339(moment) == expected
    assert datetime.fromisoformat(rfc3339(moment).replace("Z", "+00:00")) == utc.replace(
        microsecond=utc.microsecond // 1000 * 1000
    )
