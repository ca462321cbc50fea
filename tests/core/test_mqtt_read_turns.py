"""A flood of incoming messages must not hold the event loop (issue 12: central barely stored
while a flood arrived).

A broker peer on loopback TCP (a plain socket in a thread, so it runs while the client's loop
is held) writes many QoS 1 PUBLISHes at once. The test holds the client's loop until every byte
it can take is in the client's socket, so the reader finds more than one receive buffer waiting:
it must hand the loop back between buffers, which a ticker task sees as turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import termios
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest

from core.mqtt import _RECV_BYTES, BrokerSettings, MqttConnection
from core.mqtt_packets import encode_publish_qos1, encode_topic

CONNACK_V5 = bytes([0x20, 0x03, 0x00, 0x00, 0x00])
TOPIC = "gempita/v1/gw-1/readings"
PAYLOAD = b"x" * 500
MESSAGES = 1000  # ~0.5 MB: several receive buffers


def _flood() -> bytes:
    head = encode_topic(TOPIC)
    return b"".join(encode_publish_qos1(head, mid, PAYLOAD) for mid in range(1, MESSAGES + 1))


@contextlib.contextmanager
def flooding_peer(go: threading.Event) -> Iterator[int]:
    """Accepts one client, answers CONNACK, then on `go` writes the whole flood at once."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)  # CONNECT
            conn.sendall(CONNACK_V5)
            if not go.wait(10):
                return
            conn.sendall(_flood())
            with contextlib.suppress(OSError):
                while conn.recv(65536):  # the client's PUBACKs, until it leaves
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        thread.join(10)


def _unread(sock: socket.socket) -> int:
    buf = struct.pack("i", 0)
    value: int = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, buf))[0]
    return value


@pytest.mark.parametrize("raw", [False, True], ids=["paho-message", "raw-from-buffer"])
async def test_reader_hands_the_loop_back_between_buffers(raw: bool) -> None:
    turn = 0
    per_turn: dict[int, int] = {}
    got = asyncio.Event()
    mids: list[int] = []

    def count() -> None:
        per_turn[turn] = per_turn.get(turn, 0) + 1
        if sum(per_turn.values()) == MESSAGES:
            got.set()

    def on_message(_msg: paho.MQTTMessage) -> None:
        count()

    def on_raw(topic: str, payload: bytes, mid: int, qos: int) -> None:
        assert (topic, payload, qos) == (TOPIC, PAYLOAD, 1)
        mids.append(mid)
        count()

    async def ticker() -> None:
        nonlocal turn
        while True:
            await asyncio.sleep(0)
            turn += 1

    go = threading.Event()
    with flooding_peer(go) as port:
        settings = BrokerSettings(url=f"mqtt://127.0.0.1:{port}", client_id="t")
        if raw:
            conn = MqttConnection(settings, on_raw_message=on_raw, manual_ack=True)
        else:
            conn = MqttConnection(settings, on_message=on_message)
        await conn.connect()
        ticking = asyncio.create_task(ticker())
        try:
            go.set()
            # Hold the loop (no await) until our socket's buffer is full: the peer is still
            # writing, so bytes keep coming for as long as the reader reads.
            assert conn._sock is not None
            deadline = time.monotonic() + 10
            unread, steady_since = 0, time.monotonic()
            while time.monotonic() - steady_since < 0.1:
                assert time.monotonic() < deadline, "the flood did not arrive"
                time.sleep(0.01)
                now = _unread(conn._sock)
                if now != unread:
                    unread, steady_since = now, time.monotonic()
            packet = len(encode_publish_qos1(encode_topic(TOPIC), 1, PAYLOAD))
            assert unread > _RECV_BYTES + 4 * packet, "the test needs more than a buffer waiting"
            async with asyncio.timeout(10):
                await got.wait()
        finally:
            ticking.cancel()
            await conn.close()
    assert sum(per_turn.values()) == MESSAGES
    if raw:
        assert mids == list(range(1, MESSAGES + 1))
    # At most one receive buffer's worth of messages per turn of the loop (plus the packet cut
    # at its end); holding the loop for the whole flood delivered all of them in one turn.
    assert max(per_turn.values()) <= _RECV_BYTES // packet + 2
    assert len(per_turn) >= (MESSAGES * packet) // _RECV_BYTES
