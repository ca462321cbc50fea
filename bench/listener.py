"""A stand-in for central in the benchmarks, in its own process: subscribes to every gateway's
readings (QoS 0) so the broker delivers them somewhere, as in production, and discards them.

Without a subscriber mosquitto answers PUBACK 0x10 (no matching subscribers), which the
gateway rightly treats as not delivered. In production central runs on another machine, so the
stand-in must cost the gateway's two cores as little as possible: a paho subscriber parsing
every message took ~66 us of CPU per reading (40 % of a core at 6,500 readings/s, more than
mosquitto itself). This one speaks just enough MQTT 3.1.1 to subscribe, then reads the socket
in large chunks without parsing. Run: `python -m bench.listener URL`; prints "ready".
"""

from __future__ import annotations

import select
import socket
import sys
from urllib.parse import urlsplit

TOPIC = "gempita/v1/+/readings"


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str16(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _remaining_length(len(body)) + body


def connect_packet(client_id: str) -> bytes:
    # protocol "MQTT" level 4 (3.1.1), clean session, keep-alive 0 (no PINGREQ needed)
    return _packet(0x10, _str16("MQTT") + bytes([4, 0x02, 0, 0]) + _str16(client_id))


def subscribe_packet(topic: str, packet_id: int = 1) -> bytes:
    return _packet(0x82, packet_id.to_bytes(2, "big") + _str16(topic) + bytes([0]))


CONNACK_OK = bytes([0x20, 0x02, 0x00, 0x00])
SUBACK_QOS0 = bytes([0x90, 0x03, 0x00, 0x01, 0x00])


def main() -> None:
    url = urlsplit(sys.argv[1])
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 1883), timeout=10)
    sock.sendall(connect_packet("gempita-bench-listener") + subscribe_packet(TOPIC))
    expected = CONNACK_OK + SUBACK_QOS0
    answer = b""
    while len(answer) < len(expected):
        chunk = sock.recv(len(expected) - len(answer))
        if not chunk:
            sys.exit("listener: broker closed the connection before SUBACK")
        answer += chunk
    if answer != expected:
        sys.exit(f"listener: unexpected CONNACK/SUBACK {answer.hex()}")
    print("ready", flush=True)
    sock.setblocking(False)
    stdin = sys.stdin.fileno()
    while True:  # until the parent closes our stdin, or the broker goes away
        readable, _, _ = select.select([sock, stdin], [], [])
        if stdin in readable:
            break
        try:
            if not sock.recv(1 << 20):
                break
        except BlockingIOError:
            continue
    sock.close()


if __name__ == "__main__":
    main()
