"""Incoming QoS 1 PUBLISHes taken from the receive buffer (core/mqtt.py `_take_publishes`).

`scan_publish_qos1` must accept exactly the packets it can hand over whole, and leave
everything else (another QoS, RETAIN, properties, a topic alias, a cut) to paho's reader.
"""

from __future__ import annotations

import pytest

from core.mqtt_packets import (
    encode_publish_qos1,
    encode_remaining_length,
    encode_topic,
    scan_publish_qos1,
)

TOPIC = "gempita/v1/gw-1/readings"


def test_scan_finds_topic_mid_and_payload_of_each_packet() -> None:
    payload = b'{"x": 1}' * 40  # remaining length needs two bytes
    one = encode_publish_qos1(encode_topic(TOPIC), 7, payload)
    two = encode_publish_qos1(encode_topic("a/b"), 65535, b"")
    buf = b"junk" + one + two
    found = scan_publish_qos1(buf, 4)
    assert found is not None
    topic, mid, body, end = found
    assert (topic, mid, buf[body:end], end) == (TOPIC.encode(), 7, payload, 4 + len(one))
    again = scan_publish_qos1(buf, end)
    assert again is not None
    assert (again[0], again[1], buf[again[2] : again[3]], again[3]) == (
        b"a/b",
        65535,
        b"",
        len(buf),
    )


def test_scan_accepts_a_redelivery() -> None:
    packet = bytearray(encode_publish_qos1(encode_topic(TOPIC), 9, b"p"))
    packet[0] |= 0x08  # DUP
    found = scan_publish_qos1(bytes(packet), 0)
    assert found is not None and found[1] == 9


@pytest.mark.parametrize("first", [0x30, 0x34, 0x33, 0x40, 0x20])
def test_scan_leaves_other_packets_to_paho(first: int) -> None:
    packet = bytearray(encode_publish_qos1(encode_topic(TOPIC), 9, b"p"))
    packet[0] = first  # QoS 0, QoS 2, RETAIN, PUBACK, CONNACK
    assert scan_publish_qos1(bytes(packet), 0) is None


def test_scan_leaves_properties_aliases_and_cuts_to_paho() -> None:
    head = encode_topic(TOPIC)
    with_props = head + b"\x00\x09" + b"\x02\x01\x01" + b"p"  # payload format indicator
    assert (
        scan_publish_qos1(b"\x32" + encode_remaining_length(len(with_props)) + with_props, 0)
        is None
    )
    alias = b"\x00\x00" + b"\x00\x09" + b"\x00" + b"p"  # empty topic: an alias would follow
    assert scan_publish_qos1(b"\x32" + encode_remaining_length(len(alias)) + alias, 0) is None
    whole = encode_publish_qos1(head, 9, b"payload")
    for cut in range(len(whole)):
        assert scan_publish_qos1(whole[:cut], 0) is None
    zero_mid = b"\x32" + encode_remaining_length(len(head) + 3) + head + b"\x00\x00\x00"
    assert scan_publish_qos1(zero_mid, 0) is None
    # A topic length running past the packet, and a remaining length of five bytes.
    assert scan_publish_qos1(b"\x32\x04\xff\xff\x00\x01", 0) is None
    assert scan_publish_qos1(b"\x32\xff\xff\xff\xff\x7f" + b"\x00" * 10, 0) is None
