"""PUBACK handling of `gateway.mqtt` against a scripted broker on a real loopback socket.

The connection reads PUBACKs through a receive buffer and a shortcut for property-less v5
PUBACKs (gateway/mqtt.py `_Client`). These tests pin what the publisher sees to what paho's
own decoding gives, for the shapes a broker sends: 2-byte success, 3-byte reason code, and a
PUBACK with properties (handled by paho's code), all arriving in one TCP segment.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import struct
import threading
from collections.abc import AsyncIterator

import pytest

from gateway.mqtt import BrokerSettings, MqttConnection

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
    answers: list[tuple[int | None, str | None]], *, lead: bytes = b""
) -> AsyncIterator[str]:
    """Accepts one client, collects len(answers) PUBLISHes, then PUBACKs all in one write.

    `lead` goes first in that write (packets the client does not expect).
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
        writer.write(
            lead
            + b"".join(
                puback(mid, code, text) for mid, (code, text) in zip(mids, answers, strict=True)
            )
        )
        await writer.drain()
        await reader.read()  # until the client leaves

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"mqtt://127.0.0.1:{port}"


async def acks_for(
    answers: list[tuple[int | None, str | None]], *, lead: bytes = b""
) -> list[tuple[int, str]]:
    seen: dict[int, tuple[int, str]] = {}
    done = asyncio.Event()

    def on_publish(mid: int, code: int, name: str) -> None:
        seen[mid] = (code, name)
        if len(seen) == len(answers):
            done.set()

    async with scripted_broker(answers, lead=lead) as url:
        conn = MqttConnection(BrokerSettings(url=url, client_id="t"), on_publish=on_publish)
        await conn.connect()
        try:
            mids = [conn.publish("gempita/v1/t/readings", b"{}") for _ in answers]
            async with asyncio.timeout(5):
                await done.wait()
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
