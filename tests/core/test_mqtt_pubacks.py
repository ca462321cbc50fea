"""Publish and PUBACK shortcuts of `core.mqtt` against a scripted broker on loopback TCP.

Readings are published by `_Client.publish_qos1` (packets written by us, sent in batches
through paho's writer) and their PUBACKs taken straight from a receive buffer (core/mqtt.py
`_Client`). These tests pin the bytes on the wire to paho's own, and what the publisher sees
to what paho's decoding gives, for the shapes a broker sends: 2-byte success, 3-byte reason
code, a PUBACK with properties, PUBACKs for paho's own messages in between, all in one TCP
segment or cut anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import struct
import threading
from collections.abc import AsyncIterator, Iterator

import paho.mqtt.client as paho
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from core.errors import PublishError
from core.mqtt import BrokerSettings, MqttConnection, _Client

CONNACK_V5 = bytes([0x20, 0x03, 0x00, 0x00, 0x00])


def puback(mid: int, code: int | None = None, reason_string: str | None = None) -> bytes:
    body = struct.pack("!H", mid)
    if code is not None:
        body += bytes([code])
    if reason_string is not None:
        text = reason_string.encode()
        props = bytes([0x1F]) + struct.pack("!H", len(text)) + text
        body += bytes([len(props)]) + props
    return bytes([0x40, len(body)]) + body


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first = (await reader.readexactly(1))[0]
    length, mult = 0, 1
    while True:
        byte = (await reader.readexactly(1))[0]
        length += (byte & 0x7F) * mult
        mult *= 128
        if not byte & 0x80:
            break
    return first, await reader.readexactly(length)


def publish_mid(body: bytes) -> int:
    topic_len = struct.unpack("!H", body[:2])[0]
    mid: int = struct.unpack("!H", body[2 + topic_len : 4 + topic_len])[0]
    return mid


@contextlib.asynccontextmanager
async def scripted_broker(
    answers: list[tuple[int | None, str | None]],
    *,
    lead: bytes = b"",
    cut: int | None = None,
    seen: list[tuple[int, bytes]] | None = None,
) -> AsyncIterator[str]:
    """Accepts one client, collects len(answers) PUBLISHes, then PUBACKs all in one write.

    `lead` goes first in that write (packets the client does not expect). With `cut`, the
    write is split there, the second part sent a moment later. `seen` collects the
    PUBLISH packets as received (first byte, body).
    """

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await script(reader, writer)
        writer.close()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_packet(reader)  # CONNECT
        writer.write(CONNACK_V5)
        mids = []
        while len(mids) < len(answers):
            kind, body = await read_packet(reader)
            if kind >> 4 == 3:
                mids.append(publish_mid(body))
                if seen is not None:
                    seen.append((kind, body))
        data = lead + b"".join(
            puback(mid, code, text) for mid, (code, text) in zip(mids, answers, strict=True)
        )
        if cut is not None:
            writer.write(data[:cut])
            await writer.drain()
            await asyncio.sleep(0.05)
            data = data[cut:]
        writer.write(data)
        await writer.drain()
        await reader.read()  # until the client leaves

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"mqtt://127.0.0.1:{port}"


async def acks_for(
    answers: list[tuple[int | None, str | None]],
    *,
    lead: bytes = b"",
    cut: int | None = None,
    retain: frozenset[int] = frozenset(),
) -> list[tuple[int, str]]:
    """Publish one message per answer (those at `retain` indexes retained: paho's path)."""
    seen: dict[int, tuple[int, str]] = {}
    done = asyncio.Event()

    def on_publish(mid: int, code: int, name: str) -> None:
        seen[mid] = (code, name)
        if len(seen) == len(answers):
            done.set()

    async with scripted_broker(answers, lead=lead, cut=cut) as url:
        conn = MqttConnection(BrokerSettings(url=url, client_id="t"), on_publish=on_publish)
        await conn.connect()
        try:
            mids = [
                conn.publish("gempita/v1/t/readings", b"{}", retain=n in retain)
                for n in range(len(answers))
            ]
            async with asyncio.timeout(5):
                await done.wait()
            # Each message was settled by its own side: nothing left waiting in either table.
            assert not conn.client._out_messages
            assert conn.client.unacknowledged == 0
        finally:
            await conn.close()
    return [seen[mid] for mid in mids]


async def test_every_puback_of_one_segment_reaches_the_publisher() -> None:
    answers: list[tuple[int | None, str | None]] = [(None, None)] * 50
    assert await acks_for(answers) == [(0, "Success")] * 50


async def test_packets_left_in_the_buffer_are_read_without_new_bytes() -> None:
    # paho reads at most as many packets per call as it has messages in flight; two stray
    # PUBACKs in front leave the last two real ones in the receive buffer, and no more bytes
    # will come to wake the reader.
    answers: list[tuple[int | None, str | None]] = [(None, None)] * 5
    assert await acks_for(answers, lead=puback(60_001) + puback(60_002)) == [(0, "Success")] * 5


async def test_reason_codes_match_paho_with_and_without_properties() -> None:
    answers: list[tuple[int | None, str | None]] = [
        (None, None),  # 2 bytes: success implied
        (0x00, None),
        (0x10, None),  # no matching subscribers
        (0x87, None),  # not authorized, no properties: the shortcut
        (0x87, "ACL says no"),  # with a reason string: paho's own decoding
        (0x97, None),  # quota exceeded
    ]
    assert await acks_for(answers) == [
        (0x00, "Success"),
        (0x00, "Success"),
        (0x10, "No matching subscribers"),
        (0x87, "Not authorized"),
        (0x87, "Not authorized"),
        (0x97, "Quota exceeded"),
    ]


async def test_pubacks_of_pahos_own_messages_interleave_with_ours() -> None:
    # Retained publishes (the status topic) go through paho's publish(); readings through
    # publish_qos1. Their PUBACKs arrive mixed in one segment, some with properties.
    answers: list[tuple[int | None, str | None]] = [
        (None, None),
        (0x87, None),
        (None, None),
        (0x10, "nobody"),
        (None, None),
        (0x87, "ACL says no"),
        (None, None),
    ]
    assert await acks_for(answers, retain=frozenset({1, 2, 5})) == [
        (0x00, "Success"),
        (0x87, "Not authorized"),
        (0x00, "Success"),
        (0x10, "No matching subscribers"),
        (0x00, "Success"),
        (0x87, "Not authorized"),
        (0x00, "Success"),
    ]


@pytest.mark.parametrize("cut", [1, 2, 3, 5, 40, 41, 42, 43, 44, 45])
async def test_a_puback_cut_between_segments_is_read_whole(cut: int) -> None:
    # PUBACKs are 4 bytes (success) or 5 (a reason code); cuts inside both kinds.
    answers: list[tuple[int | None, str | None]] = [(None, None)] * 10 + [(0x87, None)] * 3
    assert (
        await acks_for(answers, cut=cut) == [(0, "Success")] * 10 + [(0x87, "Not authorized")] * 3
    )


async def test_publishes_in_one_batch_reach_the_broker_as_separate_packets() -> None:
    seen: list[tuple[int, bytes]] = []
    payloads = [bytes([65 + n]) * (n * 40) for n in range(20)]  # 0 to 760 bytes
    done = asyncio.Event()
    acked: list[int] = []

    def on_publish(mid: int, code: int, name: str) -> None:
        acked.append(mid)
        if len(acked) == len(payloads):
            done.set()

    async with scripted_broker([(None, None)] * len(payloads), seen=seen) as url:
        conn = MqttConnection(BrokerSettings(url=url, client_id="t"), on_publish=on_publish)
        await conn.connect()
        try:
            # Queued in one go: they leave as one batch (one send) through paho's writer.
            mids = [conn.publish("gempita/v1/t/readings", p) for p in payloads]
            queued = list(conn.client._out_packet)
            async with asyncio.timeout(5):
                await done.wait()
        finally:
            await conn.close()
    assert len(queued) == 1
    assert sorted(acked) == sorted(mids)
    topic = b"gempita/v1/t/readings"
    for (kind, body), mid, payload in zip(seen, mids, payloads, strict=True):
        assert kind == 0x32  # PUBLISH, QoS 1, no DUP, no RETAIN
        assert (
            body
            == struct.pack("!H", len(topic)) + topic + struct.pack("!H", mid) + b"\x00" + payload
        )


async def test_publishing_without_a_connection_is_an_error() -> None:
    conn = MqttConnection(BrokerSettings(url="mqtt://127.0.0.1:9", client_id="t"))
    with pytest.raises(PublishError, match="publish to gempita/v1/t/readings failed"):
        conn.publish("gempita/v1/t/readings", b"{}")
    await conn.close()


def test_publish_packet_golden_bytes() -> None:
    with offline_client() as client:
        mid = client.publish_qos1("a/b", b"xyz")
        packet = bytes(client._out_packet[0]["packet"])
        with pytest.raises(ValueError, match="wildcards"):
            client.publish_qos1("a/#", b"")
    assert mid == 1
    # PUBLISH QoS 1, remaining length 11, topic "a/b", mid 1, no properties, payload.
    assert packet == bytes.fromhex("320b0003612f620001") + b"\x00xyz"


@contextlib.contextmanager
def offline_client() -> Iterator[_Client]:
    # A client that queues packets without a network: paho only checks that a socket is set,
    # and with a register-write callback it leaves the writing to the caller.
    client = _Client(CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv5)
    client._sock = object()  # type: ignore[assignment]
    client.on_socket_register_write = lambda *_args: None
    try:
        yield client
    finally:
        client._sock = None  # paho's __del__ would try to close it


@settings(max_examples=200, deadline=None)
@given(
    topic=st.text(
        st.characters(blacklist_characters="+#\x00", blacklist_categories=["Cs"]),
        min_size=1,
        max_size=80,
    ),
    size=st.sampled_from([0, 1, 126, 127, 128, 16_376, 16_377, 16_384, 70_000]),
    mid=st.integers(1, 65_535),
)
def test_publish_packets_are_byte_for_byte_pahos(topic: str, size: int, mid: int) -> None:
    payload = bytes(n % 251 for n in range(size))
    with offline_client() as ours, offline_client() as theirs:
        ours._last_mid = mid - 1
        assert ours.publish_qos1(topic, payload) == mid
        theirs._send_publish(mid, topic.encode(), payload, 1, False, False, None, None)
        assert bytes(ours._out_packet[0]["packet"]) == bytes(theirs._out_packet[0]["packet"])


def test_a_connect_cancelled_in_flight_leaves_no_socket_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The TCP connect runs in a thread and cannot be cancelled there: it finishes after the
    # caller gave up and closed the connection. Its socket must be closed, not registered
    # with the event loop (seen under load: "Exception in callback ... Bad file descriptor"),
    # and paho's own clean-up, whenever the garbage collector runs it, must not call into a
    # closed loop (seen: "Event loop is closed" raised from paho's Client.__del__).
    async def cancel_a_connect() -> MqttConnection:
        async with scripted_broker([]) as url:
            conn = MqttConnection(BrokerSettings(url=url, client_id="t"))
            task = asyncio.create_task(conn.connect())
            await asyncio.sleep(0)  # the connect is in its thread now
            task.cancel()
            await conn.close()
            await asyncio.gather(task, return_exceptions=True)
            # Wait for the connect thread itself, then let its callbacks reach the loop.
            await asyncio.get_running_loop().shutdown_default_executor()
            for _ in range(3):
                await asyncio.sleep(0)
            return conn

    loop = asyncio.new_event_loop()
    try:
        conn = loop.run_until_complete(cancel_a_connect())
    finally:
        loop.close()
    sock = conn.client.socket()
    assert sock is None or sock.fileno() == -1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    del conn, sock
    # From another thread, as when a DB thread's allocation starts a collection: an
    # exception in paho's __del__ fails the test (filterwarnings = error).
    collector = threading.Thread(target=gc.collect)
    collector.start()
    collector.join()
