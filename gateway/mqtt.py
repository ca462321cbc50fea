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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.errors import BrokerRefusedError, PublishError

_LOGGER = logging.getLogger(__name__)
_RECV_BYTES = 65536

OnMessage = Callable[[paho.MQTTMessage], None]
OnPublish = Callable[[int, int, str], None]  # mid, reason code value, reason text


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


class _Client(paho.Client):
    """paho's client with two hot paths made cheap; the protocol work stays paho's.

    Measured in bench/ (b): per PUBACK, paho decodes into a fresh `Properties` and
    `ReasonCode` even when the broker sent neither (mosquitto's usual 2-byte PUBACK), and reads
    every packet with three `recv` system calls (command byte, length byte, body). Together
    more CPU than the rest of a reading's journey through the gateway. Here a property-less
    v5 PUBACK reuses one decoded reason per code, and `recv` is served from a buffer filled
    by one system call. Anything else goes through paho's own code unchanged.

    Both are paho's private methods (the same in 2.1 and 2.2): pyproject.toml keeps paho below
    2.3 until a new release is checked against tests/core/test_mqtt_pubacks.py.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._puback_reasons: dict[int, ReasonCode] = {}
        self._no_properties = Properties(PacketTypes.PUBACK)  # type: ignore[no-untyped-call]

    @property
    def buffered(self) -> bool:
        """Bytes already read from the socket that paho has not consumed yet."""
        return self._rpos < len(self._rbuf)

    def _sock_recv(self, bufsize: int) -> bytes:
        pos = self._rpos
        buf = self._rbuf
        if pos >= len(buf):
            buf = super()._sock_recv(_RECV_BYTES)  # raises BlockingIOError when drained
            if not buf:
                return buf  # end of stream: paho reports the lost connection
            self._rbuf = buf
            pos = 0
        self._rpos = pos + bufsize
        return buf[pos : pos + bufsize]

    def _handle_pubackcomp(self, cmd: Literal["PUBACK", "PUBCOMP"]) -> MQTTErrorCode:
        packet = self._in_packet["packet"]
        if cmd != "PUBACK" or self._protocol != paho.MQTTv5 or not 2 <= len(packet) <= 3:
            return super()._handle_pubackcomp(cmd)
        mid = packet[0] << 8 | packet[1]
        code = packet[2] if len(packet) == 3 else 0
        reason = self._puback_reasons.get(code)
        if reason is None:
            # Validates the code as paho would (an unknown one raises, as in paho).
            reason = ReasonCode(PacketTypes.PUBACK, identifier=code)
            self._puback_reasons[code] = reason
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, reason, self._no_properties)
        return MQTTErrorCode.MQTT_ERR_SUCCESS


class MqttConnection:
    """One MQTT v5 connection driven by the running asyncio loop."""

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        will: tuple[str, bytes, bool] | None = None,  # topic, payload, retain
        on_message: OnMessage | None = None,
        on_publish: OnPublish | None = None,
        manual_ack: bool = False,
    ) -> None:
        self.settings = settings
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=paho.MQTTv5,
            manual_ack=manual_ack,
        )
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
        if on_message is not None:
            client.on_message = lambda _c, _u, msg: on_message(msg)
        if on_publish is not None:
            client.on_publish = lambda _c, _u, mid, rc, _p: on_publish(mid, *_puback_reason(rc))
        self.client = client
        self._connack: asyncio.Future[None] = self._loop.create_future()
        self.closed: asyncio.Future[str] = self._loop.create_future()
        self._sock: socket.socket | None = None
        self._fd = -1  # the registered descriptor: a closed socket's fileno() is -1
        self._closing = False
        self._writing = False
        self._misc_task: asyncio.Task[None] | None = None

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
        self._loop.add_reader(self._fd, self._read)
        if self.client.want_write() and not self._writing:
            self._writing = True
            self._loop.add_writer(self._fd, self._write)

    def _read(self) -> None:
        client = self.client
        client.loop_read()
        # paho stops after as many packets as it has messages in flight; what it left in the
        # receive buffer would otherwise wait for the next bytes from the broker.
        while client.buffered and client.socket() is not None:
            client.loop_read()

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
