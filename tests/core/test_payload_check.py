"""The check-only path central takes refuses exactly what `decode_reading` refuses.

Hypothesis feeds both the same inputs: valid payloads, payloads mutated as a tree (fields
removed, added, replaced by junk of any type), payloads mutated as text (a number made huge or
NaN, a time made impossible or shifted past year 9999, the schema renamed, a NIK put where the
pseudonym goes) and plain random bytes. The two must agree on every one: both accept (and the
check's fields are the model's), or both refuse (with the same reason where decode_reading
gives a PayloadError).
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.errors import PayloadError
from core.payload import (
    check_reading,
    check_reading_by_rule,
    decode_reading,
    encode_reading,
    from_payload,
    reading_is_valid,
)
from core.payload_check import CheckedPayload, check_reading_data, check_reading_payload
from tests.core.test_reading_contract import BASES, mutated, values
from tests.support.harness import make_reading

NIK = "6471011203900001"


def _decoded(raw: bytes) -> tuple[str, Any]:
    try:
        reading, data = decode_reading(raw)
    except PayloadError as exc:
        return "refused", str(exc)
    except Exception as exc:  # recorded: central dead-letters these too
        return "crashed", type(exc).__name__
    return "accepted", (reading, data)


def _checked(raw: bytes) -> tuple[str, Any]:
    # Only a PayloadError is a refusal here: anything else escapes and fails the test.
    try:
        return "accepted", check_reading_payload(raw)
    except PayloadError as exc:
        return "refused", str(exc)


def _by_rule(data: Any) -> bool:
    # The rule-by-rule statement of what the one-pass test must answer: the schema's rules,
    # then the model's (from_payload builds the Reading decode_reading returns).
    try:
        check_reading_by_rule(data)
        from_payload(data)
    except (PayloadError, ValueError, KeyError, TypeError, OverflowError):
        return False
    return True


def _agree(raw: bytes) -> str:
    verdict, detail = _decoded(raw)
    mine, got = _checked(raw)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        # Exact both ways on parsed JSON: a valid reading never takes the slow path, and the
        # one-pass test never lets through what a rule or the model refuses.
        assert reading_is_valid(data) is _by_rule(data), "one-pass test and the rules disagree"
        assert reading_is_valid(data) is (verdict == "accepted")
    if verdict == "accepted":
        assert mine == "accepted", f"check refused what decode_reading accepts: {got}"
        reading, data = detail
        assert isinstance(got, CheckedPayload)
        assert (got.id, got.gateway_id, got.kind, got.measured_at) == (
            reading.id,
            reading.gateway_id,
            reading.kind.value,
            data["measured_at"],
        )
        assert got.data == data
    elif verdict == "refused":
        assert (mine, got) == ("refused", detail), "check and decode_reading disagree"
    else:
        # decode_reading lets an error other than PayloadError out (see the check's
        # docstring); the check must still refuse, as a PayloadError.
        assert mine == "refused", f"check accepted what decode_reading fails on ({detail})"
    return verdict


# Text-level edits a tree mutation cannot make (orjson would refuse to write them) or rarely
# hits: each replaces the first occurrence of a fragment of the encoded payload.
_TEXT_EDITS = [
    (b'"clock_offset_s":1.5', b'"clock_offset_s":NaN'),
    (b'"clock_offset_s":1.5', b'"clock_offset_s":1e400'),
    (b'"clock_offset_s":1.5', b'"clock_offset_s":-1' + b"0" * 400),
    (b'"clock_offset_s":1.5', b'"clock_offset_s":123456789012345678901234567890'),
    (b'"clock_offset_s":95.0', b'"clock_offset_s":Infinity'),
    (b'"systolic_mmhg":121.0', b'"systolic_mmhg":1.7976931348623157e308'),
    (b'"systolic_mmhg":121.0', b'"systolic_mmhg":1.8e308'),
    (b'"glucose_mgdl":98.0', b'"glucose_mgdl":-1e309'),
    (b'"gempita.reading/1"', b'"gempita.reading/9"'),
    (b'"gempita.reading/1"', b'"gempita.reading/2"'),
    (b'"pseudonym":"', b'"pseudonym":"' + NIK.encode() + b'","x":"'),
    (b'"' + b"cd" * 32 + b'"', b'"' + NIK.encode() + b'"'),
    (b'"' + b"ab" * 32 + b'"', b'"' + b"AB" * 32 + b'"'),
    (b'.000Z"', b'.000+00:00"'),
    (b'.456Z"', b'.456z"'),
    (b'"2026-11-27T01:05:00.000Z"', b'"9999-12-31T23:59:59-01:00"'),
    (b'"2026-11-27T01:05:00.000Z"', b'"0001-01-01T00:00:00+01:00"'),
    (b'"2026-01-01T00:00:00.000Z"', b'"0001-01-01T00:30:00+01:00"'),
    (b'"2026-01-01T00:00:00.000Z"', b'"2026-02-30T00:00:00Z"'),
    (b'"measured_at":"2026', b'"measured_at":"\\u0662026'),
    (b'"gateway_id":"gw-001"', b'"gateway_id":"gw-001\\n"'),
    (b'"kind":"glucose"', b'"kind":"blood_pressure"'),
    (b'"kind":"blood_pressure"', b'"kind":"glucose"'),
    (b'"bound":false', b'"bound":0'),
    (b'"status":[]', b'"status":["a","a"]'),
    (b"{", b"["),
    (b"}", b""),
]


@st.composite
def text_edited(draw: st.DrawFn) -> bytes:
    raw = orjson.dumps(draw(st.sampled_from(BASES)))
    for old, new in draw(st.lists(st.sampled_from(_TEXT_EDITS), min_size=1, max_size=3)):
        raw = raw.replace(old, new, 1)
    return raw


@st.composite
def byte_flipped(draw: st.DrawFn) -> bytes:
    raw = bytearray(orjson.dumps(draw(st.sampled_from(BASES))))
    for _ in range(draw(st.integers(1, 3))):
        raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw)


inputs = (
    st.sampled_from(BASES).map(orjson.dumps)
    | mutated().map(orjson.dumps)
    | text_edited()
    | byte_flipped()
    | st.binary(max_size=200)
    | st.builds(orjson.dumps, values)
)


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(inputs)
@example(orjson.dumps(BASES[0] | {"id": "x" * 65}))
@example(orjson.dumps(BASES[1] | {"subject": {"pseudonym": NIK}}))
@example(orjson.dumps(BASES[2] | {"received_at": "0001-01-01T00:00:00+01:00"}))
def test_check_and_decode_agree(raw: bytes) -> None:
    _agree(raw)


def test_every_kind_of_input_is_exercised() -> None:
    # Guards the property test against strategies that only ever produce refusals (or only
    # acceptances): each edit below must land, and the verdicts must cover both kinds.
    verdicts = {_agree(orjson.dumps(base)) for base in BASES}
    assert verdicts == {"accepted"}
    seen = set()
    for old, new in _TEXT_EDITS:
        for base in BASES:
            raw = orjson.dumps(base)
            if old in raw:
                seen.add(_agree(raw.replace(old, new, 1)))
    # No edit crashes either path any more: the one that did (a time past year 1 in UTC, an
    # OverflowError) is a PayloadError since core.payload.parse_rfc3339 says so.
    assert seen == {"accepted", "refused"}


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ((b'"clock_offset_s":1.5', b'"clock_offset_s":1e400'), r"^not UTF-8 JSON"),
        ((b'"gempita.reading/2"', b'"gempita.reading/9"'), r"^schema must be"),
        ((b'"measured_at":"2026-11-01T08:00:01.000Z"', b'"measured_at":"x"'), r"^measured_at"),
    ],
)
def test_refusals_name_the_rule(edit: tuple[bytes, bytes], reason: str) -> None:
    raw = orjson.dumps(BASES[0]).replace(*edit, 1)
    assert raw != orjson.dumps(BASES[0])
    with pytest.raises(PayloadError, match=reason):
        check_reading_payload(raw)


def test_a_nik_never_reaches_the_reason() -> None:
    for payload in (
        BASES[1] | {"subject": {"pseudonym": NIK}},
        BASES[0] | {NIK: 1},
        BASES[0] | {"id": NIK * 5},
    ):
        with pytest.raises(PayloadError) as caught:
            check_reading_payload(orjson.dumps(payload))
        assert NIK not in str(caught.value)


@pytest.mark.parametrize(
    ("base", "path"),
    [
        (0, ("values", "systolic_mmhg")),
        (0, ("values", "pulse_bpm")),
        (0, ("clock_offset_s",)),
        (1, ("values", "glucose_mgdl")),
        (1, ("values", "original_value")),
        (2, ("clock_offset_s",)),
    ],
)
@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_number_is_refused_as_the_model_refuses_it(
    base: int, path: tuple[str, ...], number: float
) -> None:
    # orjson never parses one from bytes, so the model's rule is held against the model on
    # parsed data: from_payload (what decode_reading runs after the schema check) and the
    # check's data path must both refuse it.
    data = copy.deepcopy(BASES[base])
    node = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = number
    check_reading(data)  # the schema check alone lets it through
    with pytest.raises(ValueError, match="finite"):
        from_payload(data)
    with pytest.raises(PayloadError, match=r"^reading refused by the model: ValueError$"):
        check_reading_data(data)
    node[path[-1]] = 1.5
    assert check_reading_data(data).id == from_payload(data).id


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_out_of_range_in_utc_is_a_payload_error(moment: str) -> None:
    # Once an OverflowError that escaped the check (central's catch-all dead-lettered it).
    data = orjson.loads(encode_reading(make_reading(1)))
    data["received_at"] = moment
    raw = orjson.dumps(data)
    with pytest.raises(PayloadError, match="received_at"):
        decode_reading(raw)
    with pytest.raises(PayloadError, match="received_at"):
        check_reading_payload(raw)


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(mutated() | st.sampled_from(BASES) | values)
def test_the_one_pass_test_is_the_rules_on_parsed_data(data: Any) -> None:
    # On data as the tree mutations leave it (not through bytes: a float NaN, say, which
    # orjson never parses but a caller of check_reading_data may hold).
    assert reading_is_valid(data) is _by_rule(data)
    if reading_is_valid(data):
        check_reading(data)
    else:
        with pytest.raises((PayloadError, ValueError, KeyError, TypeError, OverflowError)):
            check_reading_by_rule(data)
            from_payload(data)


@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf"), 1e308, 0, None])
@pytest.mark.parametrize(
    ("base", "path"),
    [
        (0, ("clock_offset_s",)),
        (0, ("values", "systolic_mmhg")),
        (0, ("values", "diastolic_mmhg")),
        (0, ("values", "map_mmhg")),
        (0, ("values", "pulse_bpm")),
        (1, ("values", "glucose_mgdl")),
        (1, ("values", "original_value")),
    ],
)
def test_the_one_pass_test_takes_the_models_numbers(
    base: int, path: tuple[str, ...], number: float | None
) -> None:
    data = copy.deepcopy(BASES[base])
    node = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = number
    assert reading_is_valid(data) is _by_rule(data)
    assert reading_is_valid(data) is (number is None or abs(number) < float("inf"))


class _Text(str):
    pass


def test_a_subclass_goes_the_rule_by_rule_way_and_is_accepted_there() -> None:
    # Exact type tests in the one-pass test; the rules' isinstance accepts a str subclass, and
    # so does the check (through the slow path), as decode_reading would.
    data = copy.deepcopy(BASES[0])
    data["gateway_id"] = _Text(data["gateway_id"])
    assert not reading_is_valid(data)
    check_reading(data)
    assert check_reading_data(data).gateway_id == data["gateway_id"]


def test_every_base_and_every_harness_reading_takes_the_fast_path() -> None:
    # What gateways build (to_payload) must pass in one call, or central pays the slow path
    # for every reading and nothing fails.
    for data in (*BASES, *(orjson.loads(encode_reading(make_reading(n))) for n in range(20))):
        assert reading_is_valid(data)
