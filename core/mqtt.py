"""A thin asyncio adapter over paho-mqtt 2 (MQTT v5), shared by the gateway and central.

paho does the protocol; this module only plugs its socket into the event loop through paho's
socket callbacks (no paho thread, so no locks around our state) and turns CONNACK and
disconnects into awaitables. One `MqttConnection` is one network connection: reconnecting
means making a new one, which keeps paho's internal state from leaking across sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt import __version__ as paho_version
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core import paho_private
from core.errors import BrokerRefusedError, PublishError
from core.mqtt_packets import (
    PUBACK,
    decode_puback_body,
    encode_publish_qos1,
    encode_topic,
    scan_puback,
    scan_publish_qos1,
)

_LOGGER = logging.getLogger(__name__)
_RECV_BYTES = 65536
# A callback failing on every message must not become a line per message (an SD card fills):
# the first failure of a kind, then at most one a minute per client, with the count.
_CALLBACK_LOG_EVERY_S = 60.0
_callback_logged_at: dict[tuple[str, str], float] = {}

OnMessage = Callable[[paho.MQTTMessage], None]
OnPublish = Callable[[int, int, str], None]  # mid, reason code value, reason text
OnRawMessage = Callable[[str, bytes, int, int], None]  # topic, payload, mid, qos
# Distinct topic names kept decoded (one per gateway in central); past this, start afresh.
_TOPIC_NAMES_KEPT = 100_000


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    url: str  # mqtt://host:port or mqtts://host:port
    client_id: str
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    keepalive_s: int = 30
    session_expiry_s: int = 0  # >0: the broker keeps our subscriptions while we are away
    connect_timeout_s: float = 10.0

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"


def _reason(rc: ReasonCode | int) -> tuple[int, str]:
    if isinstance(rc, ReasonCode):
        return rc.value, rc.getName()
    return int(rc), paho.error_string(rc)


_PUBACK_NAMES: dict[int, str] = {}


def _puback_reason(rc: ReasonCode | int) -> tuple[int, str]:
    # One name lookup per reason code, not per PUBACK (getName scans paho's table).
    code = rc.value if isinstance(rc, ReasonCode) else int(rc)
    name = _PUBACK_NAMES.get(code)
    if name is None:
        name = _PUBACK_NAMES[code] = _reason(rc)[1]
    return code, name


# The fast path's private names, checked once for paho's class and module (the instance
# of every new client is checked in `_make_client`); see core/paho_private.py.
_PAHO_CLASS_PROBLEMS = tuple(paho_private.class_problems(paho.Client))
_fallback_logged: set[tuple[str, ...]] = set()


class _Client(paho.Client):
    """paho's client with the per-reading hot paths made cheap; the protocol stays paho's.

    Measured in bench/ (b): paho's per-message bookkeeping was more CPU than the rest of a
    reading's journey through the gateway. Each QoS 1 `publish()` builds an `MQTTMessage`
    and an `MQTTMessageInfo` with its own `threading.Condition`, and is sent with its own
    `send()`; each PUBACK is read with three `recv()` calls into a packet dict and decoded
    into a fresh `Properties` and `ReasonCode`, even for mosquitto's 2-byte PUBACK.

    Here, `publish_qos1` (readings: QoS 1, no retain, no properties) writes the PUBLISH
    packet itself, byte for byte what paho writes (tests/core/test_mqtt_pubacks.py), and
    appends it to the packet paho is about to send if that one is such a batch, so a
    window of readings leaves in one `send()` through paho's own writer. Those mids are
    tracked here, not in paho's `_out_messages`: paho would only use that table to resend
    on reconnect, and a connection is never reused (the publisher re-reads its pending
    readings from the outbox instead). Their PUBACKs are taken straight from the receive
    buffer, which one `recv()` fills. Everything else (CONNECT, status with retain,
    subscriptions, receipts, PUBACKs of paho's own messages, any packet paho must parse)
    goes through paho's code unchanged.

    The packet bytes are core/mqtt_packets.py's (pure, tested against the specs and paho's
    parser). The paho-private names used here are listed and checked in core/paho_private.py
    (conformance: tests/core/test_paho_private_api.py); when they do not match, `MqttConnection`
    uses a plain `paho.Client` and its public `publish()` instead. pyproject.toml keeps paho
    below 2.3 until a new release is checked against those tests.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._puback_reasons: dict[int, tuple[ReasonCode, str]] = {}
        self._no_properties = Properties(PacketTypes.PUBACK)  # type: ignore[no-untyped-call]
        self._topic_heads: dict[str, bytes] = {}
        self._fast_mids: set[int] = set()
        self._batch: paho._OutPacket | None = None  # the PUBLISH batch last queued
        self.refills = 0  # buffers read from the socket, so a reader can bound its turn
        self._topic_names: dict[bytes, str] = {}
        # Set (with manual_ack): incoming QoS 1 PUBLISHes go here as (topic, payload, mid).
        self.fast_message: Callable[[str, bytes, int], None] | None = None
        self.fast_puback: OnPublish | None = None

    @property
    def buffered(self) -> bool:
        """Bytes already read from the socket that paho has not consumed yet."""
        return self._rpos < len(self._rbuf)

    @property
    def unacknowledged(self) -> int:
        """Messages sent by `publish_qos1` still waiting for their PUBACK."""
        return len(self._fast_mids)

    def publish_qos1(self, topic: str, payload: bytes) -> int | None:
        """Queue a QoS 1 PUBLISH without retain or properties: its mid, None if not connected.

        The PUBACK comes to `fast_puback(mid, reason code, reason name)`.
        """
        if self._sock is None:
            return None
        head = self._topic_heads.get(topic)
        if head is None:
            head = self._topic_heads[topic] = encode_topic(topic)
        mid = self._mid_generate()
        while mid in self._fast_mids or mid in self._out_messages:
            mid = self._mid_generate()  # 65,535 ids for at most a window in flight
        packet = encode_publish_qos1(head, mid, payload)
        self._fast_mids.add(mid)
        batch = self._batch
        out = self._out_packet
        if batch is not None and batch["pos"] == 0 and out and out[-1] is batch:
            batch["packet"] += packet
            batch["to_process"] += len(packet)
        else:
            # Command PUBLISH with qos 1: paho's writer treats it as a sent QoS 1 message
            # (no on_publish at send time, which is for QoS 0).
            batch = {
                "command": paho.PUBLISH | 0x02,
                "mid": mid,
                "qos": 1,
                "pos": 0,
                "to_process": len(packet),
                "packet": bytearray(packet),
                "info": None,
            }
            out.append(batch)
            self._batch = batch
        self._call_socket_register_write()
        return mid

    def _sock_recv(self, bufsize: int) -> bytes:
        pos = self._rpos
        buf = self._rbuf
        if pos >= len(buf):
            buf = super()._sock_recv(_RECV_BYTES)  # raises BlockingIOError when drained
            if not buf:
                return buf  # end of stream: paho reports the lost connection
            self._rbuf = buf
            self.refills += 1
            pos = 0
        self._rpos = pos + bufsize
        return buf[pos : pos + bufsize]

    def _packet_read(self) -> MQTTErrorCode:
        # Between packets, take every complete property-less PUBACK of ours already in the
        # buffer; paho reads anything else (and refills the buffer) as before.
        if self._in_packet["command"] == 0 and self._rpos < len(self._rbuf):
            took = False
            # Central's buffer holds readings with the PUBACKs of its receipts in between.
            while self._take_pubacks() | self._take_publishes():
                took = True
            if took:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._packet_read()

    def _take_publishes(self) -> bool:
        # paho builds an MQTTMessage, a Properties and its topic string per incoming message,
        # and reads each packet with three recv() calls: for central that was most of the CPU
        # per reading (bench/RESULTS.md, (h)). With manual acks paho keeps no state for an
        # incoming QoS 1 message, so taking it here leaves paho's state as its own reader would.
        callback = self.fast_message
        if callback is None:
            return False
        buf = self._rbuf
        pos = start = self._rpos
        names = self._topic_names
        while (found := scan_publish_qos1(buf, pos)) is not None:
            raw, mid, body, end = found
            topic = names.get(raw)
            if topic is None:
                try:
                    topic = raw.decode("utf-8")
                except UnicodeDecodeError:
                    break  # paho's reader handles it as it would
                if len(names) >= _TOPIC_NAMES_KEPT:
                    names.clear()
                names[raw] = topic
            pos = self._rpos = end
            callback(topic, buf[body:end], mid)
        if pos == start:
            return False
        with self._msgtime_mutex:
            self._last_bytes_received = paho.time_func()
        return True

    def queue_pubacks(self, mids: list[int]) -> None:
        """Acknowledge these incoming QoS 1 messages (success, no properties) in one packet write.

        paho's `ack()` queues one packet per message, and its writer sends each with its own
        send(): a batch of readings cost as many system calls.
        """
        if not mids or self._sock is None:
            return
        packet = bytearray()
        for mid in mids:
            packet += b"\x40\x02"
            packet += mid.to_bytes(2, "big")
        self._out_packet.append(
            {
                "command": PUBACK,
                "mid": 0,
                "qos": 0,
                "pos": 0,
                "to_process": len(packet),
                "packet": packet,
                "info": None,
            }
        )
        self._call_socket_register_write()

    def _take_pubacks(self) -> bool:
        buf = self._rbuf
        pos = start = self._rpos
        fast = self._fast_mids
        reasons = self._puback_reasons
        callback = self.fast_puback
        # Not a property-less PUBACK (properties, another packet, malformed, cut short): None,
        # and paho's code reads it.
        while (ack := scan_puback(buf, pos)) is not None:
            mid, code, end = ack
            known = reasons.get(code)
            if mid not in fast or known is None:
                break  # paho's own message, or a code paho has not validated yet
            fast.discard(mid)
            pos = self._rpos = end
            if callback is not None:
                callback(mid, code, known[1])
        if pos == start:
            return False
        with self._msgtime_mutex:
            self._last_bytes_received = paho.time_func()
        return True

    def _reason_of(self, code: int) -> tuple[ReasonCode, str]:
        known = self._puback_reasons.get(code)
        if known is None:
            # Validates the code as paho would (an unknown one raises, as in paho).
            reason = ReasonCode(PacketTypes.PUBACK, identifier=code)
            known = self._puback_reasons[code] = (reason, _puback_reason(reason)[1])
        return known

    def _handle_pubackcomp(self, cmd: Literal["PUBACK", "PUBCOMP"]) -> MQTTErrorCode:
        packet = self._in_packet["packet"]
        if cmd != "PUBACK" or self._protocol != paho.MQTTv5 or len(packet) < 2:
            return super()._handle_pubackcomp(cmd)
        mid, code, has_properties = decode_puback_body(packet)
        if mid in self._fast_mids:
            # Ours (publish_qos1): paho never saw it. Properties, if any, are not needed.
            _reason, name = self._reason_of(code)
            self._fast_mids.discard(mid)
            if self.fast_puback is not None:
                self.fast_puback(mid, code, name)
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        if has_properties:
            return super()._handle_pubackcomp(cmd)
        reason, _name = self._reason_of(code)
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, reason, self._no_properties)
        return MQTTErrorCode.MQTT_ERR_SUCCESS


def _make_client(
    fast_client: Callable[..., paho.Client], client_id: str, manual_ack: bool
) -> tuple[paho.Client, _Client | None]:
    """The client for one connection and, if its fast path may be used, the same as `_Client`.

    The fast path relies on paho-private names (core/paho_private.py). If paho's class or
    this new instance does not match them, the connection uses a plain `paho.Client` and its
    public `publish()`: paho's own code stays consistent with itself, ours would not be.
    """
    kwargs: dict[str, Any] = {
        "client_id": client_id,
        "protocol": paho.MQTTv5,
        "manual_ack": manual_ack,
    }
    problems = list(_PAHO_CLASS_PROBLEMS)
    if not problems:  # a paho that failed the class check may not even build a _Client
        try:
            client = fast_client(CallbackAPIVersion.VERSION2, **kwargs)
        except Exception as exc:  # noqa: BLE001 (paho changed under _Client.__init__)
            problems.append(f"the fast client cannot be built: {type(exc).__name__}: {exc}")
        else:
            if not isinstance(client, _Client):
                problems.append(f"{type(client).__name__} is not core.mqtt's fast client")
            problems += paho_private.instance_problems(client)
            if not problems and isinstance(client, _Client):
                return client, client
    key = tuple(problems)
    if key not in _fallback_logged:
        # Once per process and kind: a gateway reconnects every few seconds when the broker
        # is down, and the journal needs the line only once.
        _fallback_logged.add(key)
        _LOGGER.warning(
            "paho-mqtt %s does not match the fast publish path (%s); publishing through "
            "paho's public publish() instead (correct, slower; see core/paho_private.py)",
            paho_version,
            "; ".join(problems),
        )
    return paho.Client(CallbackAPIVersion.VERSION2, **kwargs), None


class MqttConnection:
    """One MQTT v5 connection driven by the running asyncio loop.

    `fast_client` makes the client of the publish fast path (`_Client`; tests inject a
    reshaped one to exercise the fallback to paho's public `publish()`).
    """

    _on_raw: OnRawMessage  # set with on_raw_message

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        will: tuple[str, bytes, bool] | None = None,  # topic, payload, retain
        on_message: OnMessage | None = None,
        on_publish: OnPublish | None = None,
        manual_ack: bool = False,
        on_raw_message: OnRawMessage | None = None,
        fast_client: Callable[..., paho.Client] = _Client,
    ) -> None:
        self.settings = settings
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        client, self._fast = _make_client(fast_client, settings.client_id, manual_ack)
        # The application enforces its own in-flight window: paho's own limit scans its
        # in-flight table on every PUBACK (measured 2x slower, PLATFORM.md).
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)
        if settings.tls:
            context = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH, cafile=settings.ca_file or None
            )
            if settings.cert_file:
                context.load_cert_chain(settings.cert_file, settings.key_file)
            client.tls_set_context(context)
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=will[2])
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        # paho re-raises a callback's exception (unless told not to) before it has finished
        # with the packet, and then handles the same packet again on every read: one poison
        # message became ~1,000 tracebacks a second. Our callbacks are guarded (_deliver,
        # _published) and paho is told to contain anything else.
        client.suppress_exceptions = True
        self._manual_ack = manual_ack
        self.callback_errors = 0
        self._unlogged_errors = 0
        if on_message is not None:
            client.on_message = lambda _c, _u, msg: self._deliver(on_message, msg)
        if on_raw_message is not None:
            # The payload as bytes and the topic as text, without paho's message object where
            # the fast path can read the packet (then the caller must ack: manual_ack only).
            if not manual_ack:
                raise ValueError("on_raw_message needs manual_ack=True")
            client.on_message = lambda _c, _u, msg: self._deliver_raw(
                on_raw_message, msg.topic, bytes(msg.payload), msg.mid, msg.qos
            )
            self._on_raw = on_raw_message
            if self._fast is not None:
                # A bound method, not a lambda around _deliver_raw: one call less per reading.
                self._fast.fast_message = self._deliver_fast
        if on_publish is not None:
            client.on_publish = lambda _c, _u, mid, rc, _p: self._published(
                on_publish, mid, *_puback_reason(rc)
            )
            if self._fast is not None:
                self._fast.fast_puback = on_publish
        self.client = client
        self._connack: asyncio.Future[None] = self._loop.create_future()
        self.closed: asyncio.Future[str] = self._loop.create_future()
        self._sock: socket.socket | None = None
        self._fd = -1  # the registered descriptor: a closed socket's fileno() is -1
        self._closing = False
        self._writing = False
        self._read_again = False  # a _read_rest is scheduled
        # time.monotonic() when the read turn now delivering began (one clock read per turn,
        # not per message: a turn holds at most one socket buffer, read within microseconds).
        self.read_at = time.monotonic()
        self._misc_task: asyncio.Task[None] | None = None

    @property
    def fast_path(self) -> bool:
        """Readings go by our own PUBLISH packets (False: by paho's public publish())."""
        return self._fast is not None

    # --- socket plumbing (paho calls these; they may come from the connect thread) ----------

    def _in_loop(self, fn: Callable[..., None], *args: Any) -> None:
        if threading.get_ident() == self._loop_thread:
            fn(*args)
            return
        # paho may call from its connect thread, or from its __del__ wherever the garbage
        # collector runs, after the loop has closed: nothing is left to update then.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_socket_open(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self._in_loop(self._add_reader, sock)

    def _add_reader(self, sock: socket.socket) -> None:
        if self._closing:
            # The connect thread opened the socket after close() (a cancelled connect
            # finishes in its thread): nobody will use it.
            sock.close()
            return
        self._sock = sock
        self._fd = sock.fileno()
        self._loop.add_reader(self._fd, self._on_readable)
        if self.client.want_write() and not self._writing:
            self._writing = True
            self._loop.add_writer(self._fd, self._write)

    def _on_readable(self) -> None:
        if not self._read_again:  # else the scheduled _read_rest reads, in its turn
            self._read()

    def _read(self) -> None:
        self._read_again = False
        self.read_at = time.monotonic()
        client = self.client
        try:
            fast = self._fast
            first = fast.refills if fast is not None else 0
            # Bytes left from the last turn count as this turn's buffer.
            refills_allowed = 0 if fast is not None and fast.buffered else 1
            client.loop_read()
            # paho stops after as many packets as it has messages in flight; what it left in
            # the receive buffer would otherwise wait for the next bytes from the broker.
            # One socket buffer per turn, though: a packet cut at the buffer's end makes paho
            # read the next buffer, so under a flood this loop never ran out of bytes and the
            # event loop (central's flush, the keepalive tick) never ran. The rest waits for
            # the next turn, scheduled here since the socket may have nothing more to say.
            while fast is not None and fast.buffered and client.socket() is not None:
                if fast.refills - first > refills_allowed:
                    if not self._read_again:
                        self._read_again = True
                        self._loop.call_soon(self._read_rest)
                    break
                client.loop_read()
        except Exception as exc:  # noqa: BLE001 (see below)
            # Something escaped a callback mid-packet: paho's read state cannot be trusted,
            # so end this connection (a new one starts clean) rather than read on.
            self._callback_failed("read", exc)
            self._remove_socket()
            if not self.closed.done():
                self.closed.set_result(f"internal error while reading: {type(exc).__name__}")

    def _read_rest(self) -> None:
        if self._read_again and self._fd >= 0:
            self._read()

    def _deliver(self, on_message: OnMessage, msg: paho.MQTTMessage) -> None:
        try:
            on_message(msg)
        except Exception as exc:  # noqa: BLE001 (a message we cannot handle is dropped, once)
            self._callback_failed("message", exc)
            if self._manual_ack and msg.qos:
                # Acknowledge it: unacknowledged, the broker would send it again with every
                # new session, and it would fail again.
                self.client.ack(msg.mid, msg.qos)

    def _deliver_raw(
        self, on_raw: OnRawMessage, topic: str, payload: bytes, mid: int, qos: int
    ) -> None:
        try:
            on_raw(topic, payload, mid, qos)
        except Exception as exc:  # noqa: BLE001 (as in _deliver)
            self._callback_failed("message", exc)
            if qos:
                self.client.ack(mid, qos)

    def _deliver_fast(self, topic: str, payload: bytes, mid: int) -> None:
        # _deliver_raw for the fast path's QoS 1 messages, with the callback's call inlined.
        try:
            self._on_raw(topic, payload, mid, 1)
        except Exception as exc:  # noqa: BLE001 (as in _deliver)
            self._callback_failed("message", exc)
            self.client.ack(mid, 1)

    def _published(self, on_publish: OnPublish, mid: int, code: int, name: str) -> None:
        try:
            on_publish(mid, code, name)
        except Exception as exc:  # noqa: BLE001 (same reason as _deliver)
            self._callback_failed("publish", exc)

    def _callback_failed(self, what: str, exc: Exception) -> None:
        self.callback_errors += 1
        self._unlogged_errors += 1
        key = (self.settings.client_id, what)
        now = time.monotonic()
        if now - _callback_logged_at.get(key, -_CALLBACK_LOG_EVERY_S) >= _CALLBACK_LOG_EVERY_S:
            _callback_logged_at[key] = now
            # The type only: an exception's text may quote the payload.
            _LOGGER.error(
                "MQTT %s handler failed %d time(s) since the last report (latest: %s); "
                "the message was acknowledged and dropped",
                what,
                self._unlogged_errors,
                type(exc).__name__,
            )
            self._unlogged_errors = 0

    def _on_socket_close(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self._in_loop(self._remove_socket, sock)

    def _remove_socket(self, _sock: socket.socket | None = None) -> None:
        if self._fd >= 0 and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        self._fd = -1
        self._writing = False
        self._sock = None

    def _on_register_write(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        if threading.get_ident() == self._loop_thread:
            if not self._writing and self._fd >= 0 and sock is self._sock:
                self._writing = True
                self._loop.add_writer(self._fd, self._write)
        else:
            self._in_loop(self._on_register_write, _c, _u, sock)

    def _write(self) -> None:
        self.client.loop_write()

    def _on_unregister_write(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self._in_loop(self._remove_writer, sock)

    def _remove_writer(self, _sock: socket.socket) -> None:
        self._writing = False
        if self._fd >= 0 and not self._loop.is_closed():
            self._loop.remove_writer(self._fd)

    # --- connection life cycle -------------------------------------------------------------

    def _on_connect(
        self, _c: paho.Client, _u: Any, _flags: Any, rc: ReasonCode, _p: Any = None
    ) -> None:
        code, name = _reason(rc)
        if self._connack.done():
            return
        if code >= 0x80:
            self._connack.set_exception(BrokerRefusedError(code, name, "the connection"))
        else:
            self._connack.set_result(None)

    def _on_disconnect(
        self, _c: paho.Client, _u: Any, _flags: Any, rc: ReasonCode, _p: Any = None
    ) -> None:
        code, name = _reason(rc)
        reason = f"disconnected: {name} (0x{code:02X})"
        if not self._connack.done():
            self._connack.set_exception(PublishError(f"broker closed the connection: {name}"))
        if not self.closed.done():
            self.closed.set_result(reason)

    async def connect(self) -> None:
        s = self.settings
        timeout = s.connect_timeout_s
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho untyped
        if s.session_expiry_s:
            props.SessionExpiryInterval = s.session_expiry_s
        # TCP connect + TLS handshake block: do them off the event loop. asyncio.timeout, not
        # wait_for: on Python 3.11 wait_for swallows a cancellation that arrives as the connect
        # finishes, and a gateway being shut down then hangs in its new session for ever.
        try:
            async with asyncio.timeout(timeout):
                rc = await self._loop.run_in_executor(
                    None,
                    lambda: self.client.connect(
                        s.host,
                        s.port,
                        keepalive=s.keepalive_s,
                        clean_start=not s.session_expiry_s,
                        properties=props,
                    ),
                )
        except (OSError, ssl.SSLError) as exc:
            raise PublishError(f"cannot reach broker {s.url}: {exc}") from exc
        except TimeoutError as exc:
            raise PublishError(f"cannot reach broker {s.url}: timed out") from exc
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise PublishError(f"cannot reach broker {s.url}: {paho.error_string(rc)}")
        self._misc_task = asyncio.create_task(self._misc_loop(), name="mqtt-misc")
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._connack)
        except TimeoutError as exc:
            await self.close()
            raise PublishError(f"broker {s.url} did not answer CONNECT in {timeout:.0f} s") from exc
        except PublishError:
            await self.close()
            raise

    async def _misc_loop(self) -> None:
        # paho needs a periodic tick for keepalive PINGREQ and retries.
        while True:
            await asyncio.sleep(1.0)
            if self.client.loop_misc() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                if not self.closed.done():
                    self.closed.set_result("connection lost (keepalive)")
                return

    async def close(self) -> None:
        self._closing = True
        if self.client.is_connected():
            self.client.disconnect()
            # Give paho one write to send DISCONNECT (so the broker does not fire the will).
            if self._sock is not None:
                self.client.loop_write()
        sock = self._sock
        self._remove_socket()
        if sock is not None:
            sock.close()  # paho closes on a clean DISCONNECT; a dead link needs it from us
        if self._misc_task is not None:
            self._misc_task.cancel()
            await asyncio.gather(self._misc_task, return_exceptions=True)
        if not self.closed.done():
            self.closed.set_result("closed by us")

    # --- operations ---------------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> int:
        """Queue a publish; returns the message id (the PUBACK arrives via on_publish)."""
        if self._fast is not None and qos == 1 and not retain:
            mid = self._fast.publish_qos1(topic, payload)
            if mid is None:
                no_conn = paho.error_string(MQTTErrorCode.MQTT_ERR_NO_CONN)
                raise PublishError(f"publish to {topic} failed: {no_conn}")
            return mid
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise PublishError(f"publish to {topic} failed: {paho.error_string(info.rc)}")
        return info.mid

    def subscribe(self, topic: str, qos: int = 1) -> None:
        rc, _mid = self.client.subscribe(topic, qos=qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise PublishError(f"subscribe to {topic} failed: {paho.error_string(rc)}")

    def ack(self, mid: int, qos: int) -> None:
        self.client.ack(mid, qos)

    def ack_many(self, mids: list[int]) -> None:
        """Acknowledge incoming QoS 1 messages (manual_ack), in one write where possible."""
        if self._fast is not None:
            self._fast.queue_pubacks(mids)
            return
        for mid in mids:
            self.client.ack(mid, 1)
