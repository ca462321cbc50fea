"""Conformance: paho-mqtt still has every private name core/mqtt.py's fast path relies on.

The list below is written out here on purpose, not imported: it is the reviewer's copy of
what `core.mqtt._Client` touches (read that class against it). When a paho release changes
one of them, the test named after it fails and says which one and what was expected; then
either adapt `_Client` and core/paho_private.py, or keep paho pinned (pyproject.toml). Until
then production falls back to paho's public publish() by itself (tests/core/test_mqtt_fallback.py).
"""

from __future__ import annotations

import collections
import inspect
import socket
import threading
from importlib.metadata import version

import paho.mqtt.client as paho
import pytest
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion

from core import paho_private
from core.mqtt import _Client

PAHO = f"paho-mqtt {version('paho-mqtt')}"
FIX = (
    "core/mqtt.py's fast path relies on it: adapt core.mqtt._Client and core/paho_private.py, "
    "or keep paho below this release in pyproject.toml"
)

# name -> parameter names after self, as _Client calls or overrides them.
METHODS = {
    "_sock_recv": ("bufsize",),
    "_packet_read": (),
    "_handle_pubackcomp": ("cmd",),
    "_do_on_publish": ("mid", "reason_code", "properties"),
    "_mid_generate": (),
    "_call_socket_register_write": (),
    "_packet_write": (),
    "_packet_queue": ("command", "packet", "mid", "qos", "info"),
}


def _lock(value: object) -> bool:
    return isinstance(value, type(threading.Lock()) | type(threading.RLock()))


# name -> (what is expected, check) on a new, unconnected MQTT v5 client.
ATTRIBUTES = {
    "_sock": ("None before connect", lambda v: v is None),
    "_out_messages": ("a dict", lambda v: isinstance(v, dict)),
    "_out_packet": ("a collections.deque", lambda v: isinstance(v, collections.deque)),
    "_in_packet": (
        "a dict, command 0, packet a bytearray",
        lambda v: isinstance(v, dict) and v["command"] == 0 and isinstance(v["packet"], bytearray),
    ),
    "_protocol": ("paho.MQTTv5", lambda v: v == paho.MQTTv5),
    "_msgtime_mutex": ("a threading lock", _lock),
    "_out_message_mutex": ("a threading lock", _lock),
    "_last_bytes_received": ("a float", lambda v: isinstance(v, float)),
}

OUT_PACKET_KEYS = {"command", "mid", "qos", "pos", "to_process", "packet", "info"}


@pytest.fixture
def client() -> paho.Client:
    return paho.Client(CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv5)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method(name: str) -> None:
    method = getattr(paho.Client, name, None)
    assert callable(method), f"{PAHO}: paho.Client.{name} is gone. {FIX}"
    params = tuple(p for p in inspect.signature(method).parameters if p != "self")
    assert params == METHODS[name], (
        f"{PAHO}: paho.Client.{name}{params} no longer takes {METHODS[name]}. {FIX}"
    )


@pytest.mark.parametrize("name", sorted(ATTRIBUTES))
def test_attribute(client: paho.Client, name: str) -> None:
    expected, check = ATTRIBUTES[name]
    assert hasattr(client, name), f"{PAHO}: paho.Client().{name} is gone. {FIX}"
    value = getattr(client, name)
    assert check(value), f"{PAHO}: paho.Client().{name} is {value!r}, not {expected}. {FIX}"


def test_module_time_func() -> None:
    time_func = getattr(paho, "time_func", None)
    assert callable(time_func), f"{PAHO}: paho.mqtt.client.time_func is gone. {FIX}"
    assert isinstance(time_func(), float), f"{PAHO}: time_func() is not a float. {FIX}"


def test_module_out_packet_keys(client: paho.Client) -> None:
    # paho declares _OutPacket under TYPE_CHECKING only: look at a queued one.
    client.on_socket_register_write = lambda *_args: None
    client._packet_queue(paho.PINGREQ, b"\xc0\x00", 0, 0)
    keys = set(client._out_packet.popleft())
    assert keys == OUT_PACKET_KEYS, (
        f"{PAHO}: paho.mqtt.client._OutPacket has keys {sorted(keys)}, _Client writes "
        f"{sorted(OUT_PACKET_KEYS)}. {FIX}"
    )


def test_pahos_packet_parser_used_by_the_packet_tests() -> None:
    # Test-only: tests/core/test_mqtt_packets.py round-trips through paho's own parser.
    for name in ("decode_publish", "decode_puback"):
        assert callable(getattr(_packet, name, None)), f"{PAHO}: paho.mqtt._packet.{name} is gone"


def test_productions_check_covers_exactly_this_list() -> None:
    # core/paho_private.py is what core.mqtt checks at import and per connection: the two
    # lists must not drift apart.
    assert paho_private.METHODS == METHODS
    assert set(paho_private.ATTRIBUTES) == set(ATTRIBUTES)
    assert set(paho_private.MODULE) == {"time_func", "_OutPacket"}
    assert paho_private.OUT_PACKET_KEYS == OUT_PACKET_KEYS
    assert paho_private.class_problems(paho.Client) == []


def test_productions_check_passes_a_real_fast_client() -> None:
    fast = _Client(CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv5)
    assert paho_private.instance_problems(fast) == []


def test_productions_check_names_what_changed() -> None:
    # A paho whose _mid_generate was renamed and whose _packet_read grew a parameter.
    class Changed(paho.Client):
        _mid_generate = None  # type: ignore[assignment]

        def _packet_read(self, limit: int = 0) -> paho.MQTTErrorCode:  # type: ignore[override]
            return super()._packet_read()

    found = paho_private.class_problems(Changed)
    assert found == [
        "paho.Client._packet_read takes ('limit',), the fast path calls it with ()",
        "paho.Client._mid_generate is missing or not callable",
    ]

    class Reshaped(paho.Client):
        def _packet_queue(self, command, packet, mid, qos, info=None):  # type: ignore[no-untyped-def]
            self._out_packet.append({"packet": packet})  # type: ignore[typeddict-item]
            return paho.MQTTErrorCode.MQTT_ERR_SUCCESS

    assert paho_private.class_problems(Reshaped) == [
        "paho.mqtt.client._OutPacket has keys ['packet'], the fast path writes "
        "['command', 'info', 'mid', 'packet', 'pos', 'qos', 'to_process']"
    ]

    reshaped = paho.Client(CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv5)
    del reshaped._in_packet
    reshaped._out_packet = []  # type: ignore[assignment]
    assert paho_private.instance_problems(reshaped) == [
        "paho.Client()._out_packet is a list (expected "
        + paho_private.ATTRIBUTES["_out_packet"]
        + ")",
        "paho.Client()._in_packet is missing",
    ]


def test_pahos_writer_sends_a_batch_queued_by_the_fast_path() -> None:
    # Behaviour, not only names: paho's _packet_write must send our _OutPacket dict, with the
    # packets appended to it after it was queued, as one stream of whole PUBLISH packets.
    ours, theirs = socket.socketpair()
    fast = _Client(CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv5)
    try:
        ours.setblocking(False)
        theirs.settimeout(5)
        fast._sock = ours
        fast.on_socket_register_write = lambda *_args: None
        mids = [fast.publish_qos1("a/b", bytes([n]) * n) for n in range(3)]
        assert len(fast._out_packet) == 1
        assert fast.loop_write() == paho.MQTTErrorCode.MQTT_ERR_SUCCESS
        sent = theirs.recv(4096)
    finally:
        fast._sock = None
        ours.close()
        theirs.close()
    expected = b"".join(
        bytes([0x32, 8 + n]) + b"\x00\x03a/b" + mid.to_bytes(2, "big") + b"\x00" + bytes([n]) * n
        for n, mid in enumerate(mids)
        if mid is not None
    )
    assert len(mids) == 3
    assert sent == expected
    assert not fast._out_packet
