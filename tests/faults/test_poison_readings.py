"""Poison on the readings topic, against a real `gempita central` process and real mosquitto.

Each kind of payload central cannot take (items 12 and 15 of issue 10) is interleaved with good
readings: central must keep it as a dead letter with its reason, acknowledge it, and store and
receipt every good reading exactly once, without stopping or redelivering anything forever.
Each test runs on both of central's backends (SQLite and PostgreSQL: `central_db_url`).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from central.store import CentralStore
from core.payload import encode_reading
from tests.support.harness import make_reading
from tests.support.mosquitto import Mosquitto
from tests.support.processes import central_process

TOPIC = "gempita/v1/gw-001/readings"
NIK = "6471011203900001"  # a made-up NIK: it must never reach central's log


def _with(**changes: object) -> bytes:
    data = orjson.loads(encode_reading(make_reading(10_000)))
    data.update(changes)
    return orjson.dumps(data)


def poison() -> dict[str, bytes]:
    good = encode_reading(make_reading(9_999))
    return {
        "utf16": json.dumps(json.loads(good)).encode("utf-16"),  # json.loads accepts this
        "nested-20000": b"[" * 20_000 + b"]" * 20_000,
        "nested-in-field": good.replace(
            b'"values":', b'"values":' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b',"x":', 1
        ),
        "lone-surrogate": _with(id="\\ud800").replace(b"\\\\ud800", b"\\ud800"),
        "id-null": _with(id=None),
        "id-null-again": orjson.dumps({**orjson.loads(_with(id=None)), "site_id": "other"}),
        "id-number": _with(id=12345),
        "id-empty": _with(id=""),
        "id-300": _with(id="x" * 300),
        # Valid JSON and a valid id for SQLite, but PostgreSQL text cannot hold NUL: a store
        # failure there would make central reconnect and get it again, for ever.
        "id-nul": _with(id="ok\u0000ok"),
        "not-json": b"not json",
        "empty": b"",
        "array": b"[1,2,3]",
        "nan": good.replace(b'"clock_offset_s":1.5', b'"clock_offset_s":NaN'),
        "nik-field": _with(nik=NIK),
        "nik-pseudonym": _with(subject={"pseudonym": NIK}),
        "other-gateway": encode_reading(make_reading(9_998, gateway_id="gw-002")),
        "bad-time": _with(measured_at="2026-13-45T25:61:61Z"),
        "values-mismatch": _with(kind="glucose"),
        "values-list": _with(values=[[[[[]]]]]),
    }


class Receipts:
    def __init__(self, port: int) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe("gempita/v1/gw-001/receipts", qos=1)

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        with self.lock:
            self.ids += json.loads(msg.payload)["ids"]

    def seen(self) -> set[str]:
        with self.lock:
            return set(self.ids)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def test_poison_readings_become_dead_letters_and_the_stream_goes_on(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str
) -> None:
    bad = poison()
    db = central_db_url
    central = central_process(mosquitto.url, db, tmp_path / "central.log").start()
    receipts = Receipts(mosquitto.port)
    publisher = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    try:
        central.wait_for_log("central subscribed")
        good_ids: set[str] = set()
        names = list(bad)
        # 400 good readings, a poison message after every 20th, twice over the list.
        for n in range(400):
            reading = make_reading(n)
            good_ids.add(reading.id)
            publisher.publish(TOPIC, encode_reading(reading), qos=1).wait_for_publish(5)
            if n % 10 == 5:
                name = names[(n // 10) % len(names)]
                publisher.publish(TOPIC, bad[name], qos=1).wait_for_publish(5)
        poisoned = sum(1 for n in range(400) if n % 10 == 5)
        wait(lambda: receipts.seen() >= good_ids, 30, "a receipt for every good reading")
        store = CentralStore(db)
        try:
            wait(lambda: store.dead_letter_count() >= poisoned, 10, "every dead letter")
            assert store.ids() == good_ids
            assert store.count() == len(good_ids)
            reasons = store.dead_letter_reasons()
            assert len(reasons) == poisoned  # each acknowledged once: none redelivered
            assert {topic for topic, _ in reasons} == {TOPIC}
            assert all(reason for _, reason in reasons)
            assert not receipts.seen() - good_ids  # no receipt for anything dead-lettered
        finally:
            store.close()
        assert central.alive, central.text()
        # Still working after all that: a new reading is stored and receipted.
        late = make_reading(5_000)
        publisher.publish(TOPIC, encode_reading(late), qos=1).wait_for_publish(5)
        wait(lambda: late.id in receipts.seen(), 10, "the late reading's receipt")
        log = central.text()
        assert NIK not in log
        assert "Traceback" not in log
        # Rate-limited: one line for the first dead letter, not one per message.
        assert log.count("dead-lettered") <= 2, log
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        receipts.close()
        central.stop()


def test_restart_does_not_redeliver_acknowledged_poison(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str
) -> None:
    # The failure mode of item 12: the poison was never acknowledged, so the broker sent it
    # again to every new session. After a restart nothing may come back.
    db = central_db_url
    central = central_process(mosquitto.url, db, tmp_path / "central.log").start()
    publisher = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    try:
        central.wait_for_log("central subscribed")
        for payload in poison().values():
            publisher.publish(TOPIC, payload, qos=1).wait_for_publish(5)
        publisher.publish(TOPIC, encode_reading(make_reading(1)), qos=1).wait_for_publish(5)
        store = CentralStore(db)
        try:
            # One batch stores the good readings, then its dead letters: wait for both.
            wait(
                lambda: store.count() == 1 and store.dead_letter_count() >= len(poison()),
                20,
                "the good reading and the dead letters stored",
            )
            letters = store.dead_letter_count()
            assert letters == len(poison())
            central.stop()
            central = central_process(mosquitto.url, db, tmp_path / "central2.log").start()
            central.wait_for_log("central subscribed")
            publisher.publish(TOPIC, encode_reading(make_reading(2)), qos=1).wait_for_publish(5)
            wait(lambda: store.count() == 2, 20, "the next reading stored")
            time.sleep(0.5)
            assert store.dead_letter_count() == letters
        finally:
            store.close()
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        central.stop()
