"""core.payload.check_reading is broker/reading.schema.json (and reading.v1.schema.json)
written as code.

Hypothesis mutates valid payloads (wrong types, missing and extra fields, long and empty
strings, nested junk) and the decoder must agree with jsonschema: it never accepts what the
schema refuses, and refuses what the schema accepts only where it is documented to be stricter
(a time must be a real instant). And any bytes give a reading or a PayloadError, nothing else.
"""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.errors import PayloadError
from core.payload import check_reading, decode_reading, parse_rfc3339, to_payload
from core.reading import Glucose, Subject
from tests.core.test_payload_schema import glucose_reading
from tests.support.harness import make_reading

BROKER = Path(__file__).resolve().parents[2] / "broker"
SCHEMA = json.loads((BROKER / "reading.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
# Central accepts every version it has seen: a payload is valid when one version's schema says so.
VALIDATOR_V1 = jsonschema.Draft202012Validator(
    json.loads((BROKER / "reading.v1.schema.json").read_text())
)
GOLDENS = Path(__file__).resolve().parent / "goldens"
TIME_FIELDS = (("measured_at",), ("received_at",), ("subject", "consent_at"))

BASES = [
    to_payload(make_reading(1)),
    to_payload(glucose_reading(Glucose(98.0), Subject(pseudonym="cd" * 32, consent_at=None))),
    to_payload(
        glucose_reading(
            Glucose(None, "mmol/L", None, "capillary_whole_blood", "finger", hi=True),
            Subject(
                pseudonym="ab" * 32,
                consent_at=datetime(2026, 1, 1, tzinfo=UTC),
                performer="kader:7",
            ),
        )
    ),
    json.loads((GOLDENS / "reading_v2_glucose_kader.json").read_text()),
    json.loads((GOLDENS / "reading_v1_glucose_subject.json").read_text()),
    json.loads((GOLDENS / "reading_v1_bp_unbound.json").read_text()),
]

# Strings without newlines (JSON Schema's `$` would take one at the end; the decoder does not).
text = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=8)
specials = st.sampled_from(
    [
        "",
        "x" * 64,
        "x" * 65,
        "x" * 300,
        "2026-11-27T01:02:03.456Z",
        "2026-11-27T01:02:03Z",
        "2026-11-27T01:02:03+08:00",
        "2026-13-45T25:61:61Z",  # looks like a time, is not one
        "gw-001",
        "gw 001",
        "ab" * 32,
        "6471011203900001",
        "blood_pressure",
        "glucose",
        "mmHg",
        "kPa",
        "mg/dL",
        "mmol/L",
        "ble",
        "kiosk",
        "synced",
        "unknown",
        "gempita.reading/1",
        "gempita.reading/2",
        "647103",
        "６４７１０３",
        "female",
        "male",
        "40-49",
        "70+",
        "ok",
        "out_of_policy",
        "strips_expired",
        "a" * 41,
    ]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, 1, 1.0, 1.5, -1])
    | text
    | specials
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text | specials, inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            out += _paths(child, (*prefix, index))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    payload = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(payload) if p]
        path = draw(st.sampled_from(paths))
        parent: Any = payload
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["set", "set", "set", "delete", "add"]))
        if action == "set":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(text | specials)] = draw(values)
    return payload


def _times_are_real(payload: Any) -> bool:
    for path in TIME_FIELDS:
        node = payload
        for step in path:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, str):
            try:
                parse_rfc3339(node)
            except ValueError:
                return False
    return True


def _decoder_accepts(payload: Any) -> bool:
    try:
        check_reading(payload)
    except PayloadError:
        return False
    return True


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(mutated())
@example(BASES[0] | {"id": None})
@example(BASES[0] | {"id": 12345})
@example(BASES[0] | {"id": ""})
@example(BASES[0] | {"id": "x" * 300})
@example(BASES[1] | {"bound": 1})
@example(BASES[0] | {"values": BASES[0]["values"] | {"user_id": 2.0}})
@example(BASES[0] | {"values": BASES[0]["values"] | {"status": ["a", "a"]}})
@example(BASES[3] | {"assurance": {"status": "ok", "reasons": [f"r{i}" for i in range(17)]}})
@example(BASES[3] | {"subject": BASES[3]["subject"] | {"region": "6471031708850003"}})
@example(BASES[4] | {"assurance": None})
@example(BASES[4] | {"schema": "gempita.reading/2"})
def test_decoder_agrees_with_the_schema(payload: dict[str, Any]) -> None:
    schema_ok = VALIDATOR.is_valid(payload) or VALIDATOR_V1.is_valid(payload)
    mine = _decoder_accepts(payload)
    if mine:
        assert schema_ok, "decoder accepted what the schema refuses"
        # And what it accepts, the model takes: decode never fails past the check.
        reading, _data = decode_reading(orjson.dumps(payload))
        assert reading.id == payload["id"]
    elif schema_ok:
        assert not _times_are_real(payload), "decoder refused a valid reading"


def test_every_payload_the_gateway_builds_passes() -> None:
    for base in BASES:
        check_reading(base)
        assert VALIDATOR.is_valid(base) or VALIDATOR_V1.is_valid(base)


@pytest.mark.parametrize("bad_id", [None, 12345, "", "x" * 65, "x" * 300, ["a"], True])
def test_ids_that_break_the_schema_are_refused(bad_id: object) -> None:
    payload = BASES[0] | {"id": bad_id}
    assert not VALIDATOR.is_valid(payload)
    with pytest.raises(PayloadError, match=r"^id must be"):
        decode_reading(orjson.dumps(payload))


@given(st.binary(max_size=200) | st.builds(orjson.dumps, values))
def test_any_bytes_give_a_reading_or_a_payload_error(raw: bytes) -> None:
    # The one failure allowed; anything else (RecursionError, ...) fails the test.
    with contextlib.suppress(PayloadError):
        decode_reading(raw)


def test_deep_nesting_and_utf16_are_payload_errors_not_crashes() -> None:
    good = orjson.dumps(BASES[0])
    for raw in (
        b"[" * 20_000 + b"]" * 20_000,
        b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
        json.dumps(json.loads(good)).encode("utf-16"),
        json.dumps(json.loads(good)).encode("utf-32"),
        good.replace(b'"clock_offset_s":1.5', b'"clock_offset_s":NaN'),
    ):
        with pytest.raises(PayloadError):
            decode_reading(raw)


def test_reasons_never_quote_the_payload() -> None:
    nik = "6471011203900001"
    for payload in (
        BASES[0] | {nik: 1},
        BASES[0] | {"id": nik * 5},
        BASES[1] | {"subject": {"pseudonym": nik}},
        BASES[0] | {"site_id": {"nik": nik}},
    ):
        with pytest.raises(PayloadError) as caught:
            decode_reading(orjson.dumps(payload))
        assert nik not in str(caught.value)
