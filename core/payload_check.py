"""Central's door: check a reading payload without building the `Reading` it describes.

`decode_reading` parses, runs the schema check and then builds the frozen model, which central
never reads: it stores the bytes as sent and indexes four fields. Building the model was about
as costly as the check itself (bench/RESULTS.md, central ingest), so central takes this path.

It must refuse exactly what `decode_reading` refuses, no more and no less
(tests/core/test_payload_check.py holds the two against each other with hypothesis). Hence it
does not restate the schema: it calls the same `check_reading` (a new schema version is added
there, once, and this path follows), then repeats only what the model refuses beyond the
schema, listed in `_MODEL_ONLY_NUMBERS`. A valid reading takes one call, `reading_is_valid`
(the schema and that model rule in one pass); only a refusal goes rule by rule for its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isfinite
from typing import Any

import orjson

from core.errors import PayloadError
from core.payload import check_reading_by_rule, reading_is_valid

# What `Reading.__post_init__` refuses and the schema lets through: a number that is not
# finite, in these fields (orjson does not produce one today; the model would still refuse it
# if a parser ever did). Keyed by kind; the top-level fields apply to every kind.
_MODEL_ONLY_TOP = ("clock_offset_s",)
_MODEL_ONLY_NUMBERS: dict[str, tuple[str, ...]] = {
    "blood_pressure": ("systolic_mmhg", "diastolic_mmhg", "map_mmhg", "pulse_bpm"),
    "glucose": ("glucose_mgdl", "original_value"),
}
# decode_reading's reason when the model refuses a payload the check passed.
_MODEL_REFUSED = "reading refused by the model: ValueError"


@dataclass(frozen=True, slots=True)
class CheckedPayload:
    """What central needs of a checked reading payload; `data` is the parsed JSON."""

    id: str
    gateway_id: str
    kind: str
    measured_at: str
    data: dict[str, Any]


def _all_finite(container: dict[str, Any], names: tuple[str, ...]) -> bool:
    # A loop, not a generator: this runs for every reading central takes. Only a float can
    # be non-finite (orjson gives an int only when it fits 64 bits).
    for name in names:
        value = container.get(name)
        if value.__class__ is float and not isfinite(value):
            return False
    return True


def check_reading_payload(payload: bytes) -> CheckedPayload:
    """Bytes from the readings topic -> the fields central stores by, or PayloadError.

    Accepts and refuses what `decode_reading` does, with the same reasons, except one case
    where `decode_reading` lets an OverflowError out (a time whose zone offset moves it past
    year 1 or 9999): here that is a PayloadError too, so any bytes give one or the other.
    """
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"not UTF-8 JSON ({exc})") from exc
    return check_reading_data(data)


def check_reading_data(data: Any) -> CheckedPayload:
    """The same check on JSON already parsed (what `from_payload` would be given)."""
    if not reading_is_valid(data):
        # Refused (or a case the one-pass test leaves to the rules): the rules decide, and
        # name the first one broken.
        _refusal(data)
    return CheckedPayload(
        id=data["id"],
        gateway_id=data["gateway_id"],
        kind=data["kind"],
        measured_at=data["measured_at"],
        data=data,
    )


def _refusal(data: Any) -> None:
    # Raises the PayloadError decode_reading would give; returns only if the rules and the
    # model accept after all (tests/core/test_payload_check.py holds that this never happens
    # for parsed JSON: the one-pass test is exact there).
    try:
        check_reading_by_rule(data)
    except OverflowError as exc:
        raise PayloadError("a time is outside the years 1 to 9999 once in UTC") from exc
    if not (
        _all_finite(data, _MODEL_ONLY_TOP)
        and _all_finite(data["values"], _MODEL_ONLY_NUMBERS.get(data["kind"], ()))
    ):
        raise PayloadError(_MODEL_REFUSED)
