"""core.topics: the topic names and the receipt format of broker/TOPICS.md, shared by both ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import PayloadError
from core.topics import (
    READINGS_FILTER,
    encode_receipt,
    gateway_of,
    parse_receipt,
    topic_readings,
    topic_receipts,
    topic_status,
)

TOPICS_MD = Path(__file__).resolve().parents[2] / "broker" / "TOPICS.md"


def test_topic_names_are_the_documented_ones() -> None:
    text = TOPICS_MD.read_text()
    for leaf in ("readings", "status", "receipts"):
        assert f"`gempita/v1/<gw>/{leaf}`" in text
    assert topic_readings("gw-7") == "gempita/v1/gw-7/readings"
    assert topic_status("gw-7") == "gempita/v1/gw-7/status"
    assert topic_receipts("gw-7") == "gempita/v1/gw-7/receipts"
    assert READINGS_FILTER == "gempita/v1/+/readings"


@pytest.mark.parametrize(
    ("topic", "gateway"),
    [
        ("gempita/v1/gw-7/readings", "gw-7"),
        ("gempita/v2/gw-7/readings", ""),
        ("gempita/v1/gw-7/readings/extra", ""),
        ("other/v1/gw-7/readings", ""),
        ("gempita/v1/readings", ""),
    ],
)
def test_gateway_of_reads_only_our_topic_shape(topic: str, gateway: str) -> None:
    assert gateway_of(topic) == gateway


def test_receipt_bytes_are_the_documented_compact_json() -> None:
    # The exact bytes central sends (gateways of older builds compare nothing but the JSON).
    assert encode_receipt(["a", "b"]) == b'{"schema":"gempita.receipt/1","ids":["a","b"]}'
    assert json.loads(encode_receipt([])) == {"schema": "gempita.receipt/1", "ids": []}


@given(st.lists(st.text(min_size=1, max_size=80), max_size=50))
def test_receipt_round_trip(ids: list[str]) -> None:
    assert parse_receipt(encode_receipt(ids)) == ids


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        '{"ids": ["a"]}'.encode("utf-16"),
        b'{"ids": "a"}',
        b'{"ids": [1]}',
        b"[]",
        b"[" * 20_000 + b"]" * 20_000,
    ],
)
def test_bad_receipts_are_payload_errors_only(payload: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_receipt(payload)
