"""The two MQTT packets of the publisher's fast path, as pure functions over bytes.

Per reading the gateway sends one QoS 1 PUBLISH without retain or properties and receives one
PUBACK; `core.mqtt` writes the first and reads the second itself instead of through paho's
per-message objects (bench/RESULTS.md, "How (b) was met"). Nothing here knows about paho,
sockets or the event loop, so the bytes can be checked against the MQTT specifications and
against paho's own parser (tests/core/test_mqtt_packets.py).

Section numbers are those of MQTT Version 5.0 (OASIS Standard, 7 March 2019); the fixed header
and the remaining length are the same in MQTT 3.1.1 (sections 2.2 and 2.2.3).
"""

from __future__ import annotations

# 3.3.1: packet type 3 in the high nibble, then DUP 0, QoS 01, RETAIN 0.
PUBLISH_QOS1 = 0x32
# 3.4.1: packet type 4, flags reserved as 0.
PUBACK = 0x40
# 1.5.5: a Variable Byte Integer has at most four bytes of seven bits.
MAX_REMAINING_LENGTH = 268_435_455
# 1.5.4: a UTF-8 Encoded String is prefixed by its length as a Two Byte Integer.
MAX_TOPIC_BYTES = 65_535


# What `scan_puback` finds: (packet identifier, reason code, offset just past the packet).
# A plain tuple, not a NamedTuple: one is made per reading, and building a NamedTuple cost
# ~0.3-0.9 us against ~0.03 us here (bench/RESULTS.md, "paho fast path made explicit").
PubAck = tuple[int, int, int]


def encode_remaining_length(n: int) -> bytes:
    """A Variable Byte Integer (1.5.5): seven bits a byte, low first, high bit = more."""
    if not 0 <= n <= MAX_REMAINING_LENGTH:
        raise ValueError(f"remaining length {n} outside 0..{MAX_REMAINING_LENGTH}")
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def encode_topic(topic: str) -> bytes:
    """A PUBLISH topic name as a UTF-8 Encoded String (3.3.2.1, 1.5.4).

    Refuses what paho's `publish()` refuses, with paho's messages: wildcards (3.3.2.1: "MUST
    NOT contain wildcard characters"), more than 65,535 bytes, and an empty topic (allowed by
    MQTT 5 only with a topic alias, which the fast path never sends).
    """
    encoded = topic.encode("utf-8")
    if b"+" in encoded or b"#" in encoded:
        raise ValueError("Publish topic cannot contain wildcards.")
    if len(encoded) > MAX_TOPIC_BYTES:
        raise ValueError("Publish topic is too long.")
    if not encoded:
        raise ValueError("Invalid topic.")
    return len(encoded).to_bytes(2, "big") + encoded


def encode_publish_qos1(topic: bytes, mid: int, payload: bytes) -> bytes:
    """An MQTT 5 PUBLISH, QoS 1, no DUP, no RETAIN, no properties (3.3).

    `topic` is `encode_topic`'s result (callers keep it per topic: it is the same for every
    reading). Layout: fixed header (3.3.1), remaining length (1.5.5), topic name (3.3.2.1),
    packet identifier (3.3.2.2), property length 0 (3.3.2.3), payload (3.3.3).
    """
    if not 1 <= mid <= 0xFFFF:
        # 2.2.1: a non-zero Two Byte Integer.
        raise ValueError(f"packet identifier {mid} outside 1..65535")
    return b"".join(
        (
            b"\x32",
            encode_remaining_length(len(topic) + 3 + len(payload)),
            topic,
            mid.to_bytes(2, "big"),
            b"\x00",
            payload,
        )
    )


def scan_puback(buf: bytes, pos: int) -> PubAck | None:
    """(mid, reason code, end) of the property-less PUBACK at `buf[pos]`, or None.

    The reason code is 0x00 when the broker omitted it; `end` is the offset just past the
    packet in `buf`.

    Two shapes (3.4.2): remaining length 2 (packet identifier only; reason 0x00 implied,
    3.4.2.1) and 3 (identifier + reason code; no property length, so none, 3.4.2.2.1). None
    for anything else: another packet type, a PUBACK with a property length or properties, a
    malformed one, or one cut short by the end of the buffer. None means "not this shortcut",
    never "invalid": the caller hands those bytes to a full parser.
    """
    end = len(buf)
    if pos + 4 > end or buf[pos] != PUBACK:
        return None
    length = buf[pos + 1]
    if length == 2:
        code = 0
    elif length == 3 and pos + 5 <= end:
        code = buf[pos + 4]
    else:
        return None
    return (buf[pos + 2] << 8 | buf[pos + 3], code, pos + 2 + length)


def decode_puback_body(body: bytes | bytearray) -> tuple[int, int, bool]:
    """(packet identifier, reason code, has properties) of a PUBACK's variable header (3.4.2).

    `body` is what follows the remaining length; at least 2 bytes (callers check).
    """
    mid = body[0] << 8 | body[1]
    code = body[2] if len(body) >= 3 else 0
    return mid, code, len(body) > 3


# What `scan_publish_qos1` finds: (topic name bytes, packet identifier, payload start, offset
# just past the packet). A plain tuple, for the same reason as PubAck.
Publish = tuple[bytes, int, int, int]


def scan_publish_qos1(buf: bytes, pos: int) -> Publish | None:
    """The complete MQTT 5 QoS 1 PUBLISH without retain or properties at `buf[pos:]`, or None.

    None for anything else (another packet, QoS 0/2, RETAIN, properties, a topic alias, a
    malformed or cut-short packet): the caller leaves those to paho's reader, which also
    reports the malformed ones. DUP (a redelivery) is accepted: it changes nothing for us.
    """
    n = len(buf)
    if pos + 2 > n:
        return None
    first = buf[pos]
    if first != PUBLISH_QOS1 and first != PUBLISH_QOS1 | 0x08:
        return None
    length, shift, i = 0, 0, pos + 1
    while True:
        if i >= n or shift > 21:
            return None
        byte = buf[i]
        i += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    end = i + length
    if end > n:
        return None
    topic_end = i + 2 + ((buf[i] << 8) | buf[i + 1]) if i + 2 <= end else end + 1
    # Topic (non-empty: an empty one means a topic alias), identifier, property length 0.
    if topic_end == i + 2 or topic_end + 3 > end:
        return None
    mid = (buf[topic_end] << 8) | buf[topic_end + 1]
    if mid == 0 or buf[topic_end + 2] != 0:
        return None
    return buf[i + 2 : topic_end], mid, topic_end + 3, end
