"""Golden bytes of the benchmark listener's hand-built MQTT 3.1.1 packets."""

from __future__ import annotations

from bench.listener import connect_packet, subscribe_packet


def test_connect_packet() -> None:
    assert connect_packet("ab") == bytes.fromhex("100e" "00044d515454" "04" "02" "0000" "00026162")


def test_subscribe_packet() -> None:
    assert subscribe_packet("a/+", 1) == bytes.fromhex("8208" "0001" "0003612f2b" "00")


def test_long_topic_uses_a_two_byte_remaining_length() -> None:
    packet = subscribe_packet("t" * 200, 7)
    assert packet[:3] == bytes([0x82, (205 & 0x7F) | 0x80, 205 >> 7])
    assert packet[3:5] == b"\x00\x07" and packet[-1] == 0
