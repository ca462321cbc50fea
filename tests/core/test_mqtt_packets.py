"""core.mqtt_packets: golden bytes from the MQTT specs, round trips through paho's parser.

Section numbers: MQTT Version 5.0 (OASIS, 2019) unless marked 3.1.1 (OASIS, 2014).
paho's parser is `paho.mqtt._packet` (what paho's client decodes incoming packets with); it
is private too, used only here, and listed in tests/core/test_paho_private_api.py.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion

from core.mqtt_packets import (
    MAX_REMAINING_LENGTH,
    decode_puback_body,
    encode_publish_qos1,
    encode_remaining_length,
    encode_topic,
    scan_puback,
)

V5 = MQTTProtocolVersion.MQTTv5


# 5.0 section 1.5.5 Table 1-1 "Size of Variable Byte Integer" (the same table is 3.1.1
# section 2.2.3 Table 2.4 "Size of Remaining Length field"): each size's first and last value.
@pytest.mark.parametrize(
    ("n", "golden"),
    [
        (0, "00"),
        (1, "01"),
        (127, "7f"),
        (128, "8001"),
        (16_383, "ff7f"),
        (16_384, "808001"),
        (2_097_151, "ffff7f"),
        (2_097_152, "80808001"),
        (268_435_455, "ffffff7f"),
    ],
)
def test_remaining_length_golden_bytes(n: int, golden: str) -> None:
    assert encode_remaining_length(n) == bytes.fromhex(golden)


@pytest.mark.parametrize("n", [-1, MAX_REMAINING_LENGTH + 1])
def test_remaining_length_beyond_four_bytes_is_refused(n: int) -> None:
    with pytest.raises(ValueError, match="remaining length"):
        encode_remaining_length(n)


def test_publish_golden_bytes_from_the_spec_example() -> None:
    # 3.1.1 section 3.3.2.3 (and 5.0 section 3.3.2.3's variable header figure): topic "a/b",
    # packet identifier 10 -> 00 03 'a' '/' 'b' 00 0A. MQTT 5 adds the property length 0
    # (3.3.2.3.1); the fixed header is 0x32 (3.3.1: PUBLISH, QoS 1), remaining length 11.
    packet = encode_publish_qos1(encode_topic("a/b"), 10, b"xyz")
    assert packet == bytes.fromhex("32 0b 0003 612f62 000a 00") + b"xyz"


@pytest.mark.parametrize(
    ("size", "length_bytes"),
    # Remaining length = 2 + 3 (topic "a/b") + 2 (mid) + 1 (properties) + payload.
    [(119, 1), (120, 2), (16_375, 2), (16_376, 3)],
)
def test_publish_remaining_length_crosses_its_byte_boundaries(size: int, length_bytes: int) -> None:
    packet = encode_publish_qos1(encode_topic("a/b"), 1, b"p" * size)
    assert packet[0] == 0x32
    assert packet[1 : 1 + length_bytes] == encode_remaining_length(8 + size)
    assert len(packet) == 1 + length_bytes + 8 + size


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("a/+", "wildcards"),  # 3.3.2.1
        ("a/#", "wildcards"),
        ("", "Invalid topic"),
        ("x" * 65_536, "too long"),  # 1.5.4: two-byte length
    ],
)
def test_topics_paho_refuses_are_refused(topic: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_topic(topic)


@pytest.mark.parametrize("mid", [0, 65_536])
def test_packet_identifier_zero_or_too_big_is_refused(mid: int) -> None:
    # 2.2.1: "a non-zero 16-bit Packet Identifier".
    with pytest.raises(ValueError, match="packet identifier"):
        encode_publish_qos1(encode_topic("a"), mid, b"")


@settings(max_examples=300, deadline=None)
@given(
    topic=st.text(
        st.characters(blacklist_characters="+#", blacklist_categories=["Cs"]),
        min_size=1,
        max_size=60,
    ),
    mid=st.integers(1, 65_535),
    payload=st.binary(max_size=300) | st.sampled_from([b"\x00" * 16_376, b"\xff" * 16_377]),
)
def test_publish_round_trips_through_pahos_parser(topic: str, mid: int, payload: bytes) -> None:
    packet = encode_publish_qos1(encode_topic(topic), mid, payload)
    length_end = next(n for n in range(1, 5) if not packet[n] & 0x80) + 1
    decoded = _packet.decode_publish(packet[0], packet[length_end:], V5)
    assert (decoded.dup, decoded.qos, decoded.retain) == (False, 1, False)
    assert decoded.topic == topic.encode()
    assert decoded.mid == mid
    assert bytes(decoded.payload) == payload
    assert decoded.properties is not None
    assert decoded.properties.json() == {}


# 5.0 section 3.4: PUBACK shapes a broker may send.
@pytest.mark.parametrize(
    ("golden", "expected"),
    [
        # 3.4.2.1: remaining length 2, reason code omitted: 0x00 Success.
        ("40 02 1234", (0x1234, 0x00, 4)),
        # 3.4.2.2.1: remaining length 3, no property length: no properties.
        ("40 03 0001 10", (1, 0x10, 5)),  # 0x10 No matching subscribers
        ("40 03 ffff 87", (0xFFFF, 0x87, 5)),  # 0x87 Not authorized
    ],
)
def test_puback_golden_bytes(golden: str, expected: tuple[int, int, int]) -> None:
    assert scan_puback(bytes.fromhex(golden), 0) == expected
    # The same packet after others in the buffer: `end` is an offset into that buffer.
    lead = bytes.fromhex("40 02 0009")
    found = scan_puback(lead + bytes.fromhex(golden), 4)
    assert found == (*expected[:2], expected[2] + 4)


@pytest.mark.parametrize(
    "golden",
    [
        "40 04 0001 00 00",  # 3.4.2.2.1: a property length of 0 (left to paho)
        "40 0a 0001 87 06 1f 0003 6e6f21",  # 3.4.2.2.2: Reason String "no!"
        "40 01 00",  # too short to hold a packet identifier: malformed, paho's to reject
        "50 02 0001",  # PUBREC, not PUBACK
        "30 02 0001",  # a PUBLISH
        "40 82 01 0001",  # a two-byte remaining length: never a property-less PUBACK
    ],
)
def test_other_packets_are_not_taken(golden: str) -> None:
    assert scan_puback(bytes.fromhex(golden), 0) is None


@pytest.mark.parametrize("golden", ["40 02 1234", "40 03 1234 87"])
def test_a_truncated_puback_is_not_taken(golden: str) -> None:
    packet = bytes.fromhex(golden)
    for cut in range(len(packet)):
        assert scan_puback(packet[:cut], 0) is None
        assert scan_puback(b"\x40\x02\x00\x01" + packet[:cut], 4) is None


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=12), pos=st.integers(0, 12))
def test_any_bytes_give_a_puback_or_none(data: bytes, pos: int) -> None:
    # The scanner never raises and never reads past the buffer; what it takes, paho's parser
    # reads the same way.
    found = scan_puback(data, pos)
    if found is not None:
        assert found[2] <= len(data)
        decoded = _packet.decode_puback(data[pos], data[pos + 2 : found[2]], V5)
        assert (decoded.mid, decoded.reason.value) == found[:2]


@settings(max_examples=300, deadline=None)
@given(
    mid=st.integers(1, 65_535),
    code=st.sampled_from([None, 0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]),
    # 1.5.4: no U+0000 in a UTF-8 Encoded String (paho rejects it, rightly).
    reason_string=st.none()
    | st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=20),
)
def test_pubacks_round_trip_with_pahos_parser(
    mid: int, code: int | None, reason_string: str | None
) -> None:
    body = struct.pack("!H", mid)
    if code is not None or reason_string is not None:
        body += bytes([code or 0])
    if reason_string is not None:
        text = reason_string.encode()
        props = bytes([0x1F]) + struct.pack("!H", len(text)) + text
        body += encode_remaining_length(len(props)) + props
    packet = bytes([0x40]) + encode_remaining_length(len(body)) + body
    theirs = _packet.decode_puback(packet[0], body, V5)
    assert decode_puback_body(body) == (theirs.mid, theirs.reason.value, reason_string is not None)
    found = scan_puback(packet, 0)
    if reason_string is None:
        assert found == (theirs.mid, theirs.reason.value, len(packet))
    else:
        assert found is None  # properties: paho decodes it
