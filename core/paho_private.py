"""Every private paho-mqtt name the publish fast path of `core.mqtt` relies on, and a check.

`core.mqtt._Client` overrides and reads paho internals to publish readings and take their
PUBACKs without paho's per-message objects (bench/RESULTS.md, "How (b) was met"). paho may
rename or reshape any of them in a release. `core.mqtt` runs `class_problems(paho.Client)` at
import and `instance_problems` on every new client; on any problem it publishes
through paho's public `publish()` instead, slower but correct, and says so once in the log.
tests/core/test_paho_private_api.py lists the same names on its own and fails naming the one
that changed.
"""

from __future__ import annotations

import collections
import inspect
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

# Methods, with the parameter names (after self) we call or override them with.
METHODS: dict[str, tuple[str, ...]] = {
    "_sock_recv": ("bufsize",),  # overridden: one recv() fills our buffer
    "_packet_read": (),  # overridden: PUBACKs of ours taken from the buffer first
    "_handle_pubackcomp": ("cmd",),  # overridden: PUBACKs paho read, for our mids
    "_do_on_publish": ("mid", "reason_code", "properties"),  # called for paho's own mids
    "_mid_generate": (),  # called: mids shared with paho's own messages
    "_call_socket_register_write": (),  # called after queueing a batch
    "_packet_write": (),  # not called: it sends our batches, reading the _OutPacket keys
    "_packet_queue": ("command", "packet", "mid", "qos", "info"),  # probed for those keys
}

# Instance attributes, with the shape relied on (checked by `_attribute_problem`).
ATTRIBUTES: dict[str, str] = {
    "_sock": "None until connected (publish_qos1 refuses to queue without a socket)",
    "_out_messages": "a dict of paho's in-flight mids (membership tested)",
    "_out_packet": "a collections.deque of _OutPacket dicts (a batch is appended to the last)",
    "_in_packet": "a dict with 'command' == 0 between packets and a bytearray 'packet'",
    "_protocol": "an int, paho.MQTTv5 for our clients",
    "_msgtime_mutex": "a lock (context manager) guarding _last_bytes_received",
    "_out_message_mutex": "a lock (context manager) guarding _out_messages",
    "_last_bytes_received": "a float from time_func() (keepalive bookkeeping)",
}

# Module-level names of paho.mqtt.client.
MODULE: dict[str, str] = {
    "time_func": "a callable returning float seconds (stamps _last_bytes_received)",
    # A TypedDict paho declares under TYPE_CHECKING only: probed through _packet_queue.
    "_OutPacket": "the dicts _packet_queue puts in _out_packet have exactly OUT_PACKET_KEYS",
}

OUT_PACKET_KEYS = frozenset({"command", "mid", "qos", "pos", "to_process", "packet", "info"})


def class_problems(cls: type) -> list[str]:
    """What is missing or changed among METHODS (on `cls`) and MODULE (paho.mqtt.client)."""
    found: list[str] = []
    for name, params in METHODS.items():
        method = getattr(cls, name, None)
        if not callable(method):
            found.append(f"paho.Client.{name} is missing or not callable")
            continue
        try:
            signature = inspect.signature(method)
        except (TypeError, ValueError):
            found.append(f"paho.Client.{name} has no readable signature")
            continue
        names = tuple(p for p in signature.parameters if p != "self")
        if names != params:
            found.append(f"paho.Client.{name} takes {names}, the fast path calls it with {params}")
    time_func = getattr(paho, "time_func", None)
    if not callable(time_func) or not isinstance(time_func(), float):
        found.append("paho.mqtt.client.time_func is missing or does not return a float")
    if not found:
        keys = _out_packet_keys(cls)
        if keys != OUT_PACKET_KEYS:
            found.append(
                f"paho.mqtt.client._OutPacket has keys {sorted(keys)}, "
                f"the fast path writes {sorted(OUT_PACKET_KEYS)}"
            )
    return found


def _out_packet_keys(cls: type) -> frozenset[str]:
    # A throwaway client queues a PINGREQ without a network: with a register-write callback
    # paho leaves the writing to the caller, and nothing is ever sent.
    try:
        probe = cls(CallbackAPIVersion.VERSION2, client_id="probe", protocol=paho.MQTTv5)
        probe.on_socket_register_write = lambda *_args: None
        probe._packet_queue(paho.PINGREQ, b"\xc0\x00", 0, 0)
        queued = probe._out_packet.popleft()
    except Exception:  # noqa: BLE001 (whatever paho does now, it is not what we rely on)
        return frozenset()
    return frozenset(queued) if isinstance(queued, dict) else frozenset()


def instance_problems(client: object) -> list[str]:
    """What is missing or reshaped among ATTRIBUTES on a new, unconnected client."""
    found: list[str] = []
    for name in ATTRIBUTES:
        try:
            value = getattr(client, name)
        except AttributeError:
            found.append(f"paho.Client().{name} is missing")
            continue
        problem = _attribute_problem(name, value)
        if problem:
            found.append(f"paho.Client().{name} {problem} (expected {ATTRIBUTES[name]})")
    return found


def _attribute_problem(name: str, value: Any) -> str:
    if name == "_sock":
        return "" if value is None else f"is {type(value).__name__} before connecting"
    if name == "_out_messages":
        return "" if isinstance(value, dict) else f"is a {type(value).__name__}"
    if name == "_out_packet":
        return "" if isinstance(value, collections.deque) else f"is a {type(value).__name__}"
    if name == "_in_packet":
        if not isinstance(value, dict):
            return f"is a {type(value).__name__}"
        if value.get("command") != 0 or not isinstance(value.get("packet"), bytearray):
            return f"has command={value.get('command')!r}, packet={type(value.get('packet'))}"
        return ""
    if name == "_protocol":
        return "" if value == paho.MQTTv5 else f"is {value!r}"
    if name in ("_msgtime_mutex", "_out_message_mutex"):
        ok = callable(getattr(value, "__enter__", None)) and callable(
            getattr(value, "__exit__", None)
        )
        return "" if ok else f"is a {type(value).__name__}, not a lock"
    if name == "_last_bytes_received":
        return "" if isinstance(value, float) else f"is a {type(value).__name__}"
    return "is not known to this check"  # a name added to ATTRIBUTES without its shape
