"""The whole chain in one test: mosquitto, central, the real Gateway hosting the kiosk, and
simulated BLE meters read by the real BLE runner. It runs on its own event loop in a thread,
because the sync Playwright API (and plain blocking HTTP clients) cannot run inside a loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from core.payload import rfc3339
from core.reading import Kind
from gateway.cli.compose import build_gateway
from gateway.config import parse_config
from gateway.service import Gateway
from kiosk.privacy import KeyPair, generate_keypair
from kiosk.security import hash_secret
from simulators.ble.backend import Air
from simulators.ble.cli import demo_air, demo_device_configs
from simulators.ble.devices import BpMonitor, BpRecord, GlucoseMeter, glucose_record
from tests.support.harness import running_central
from tests.support.mosquitto import Mosquitto, free_port

T = TypeVar("T")

PROGRAMME_KEY = bytes(range(100, 132))
ADMIN_PASSWORD = "operator-e2e-sandi"
# Valid NIKs (Balikpapan man born 17-08-1985; Jakarta woman born 03-02-2000, day + 40).
NIK_A = "6471031708850003"
NIK_B = "3171044302000121"

_ADMIN_HASH: list[str] = []


def admin_hash() -> str:
    # scrypt is deliberately slow: once per test run.
    if not _ADMIN_HASH:
        _ADMIN_HASH.append(hash_secret(ADMIN_PASSWORD))
    return _ADMIN_HASH[0]


@dataclass(frozen=True)
class Planned:
    """What the next simulated resident's measurement will read."""

    systolic: float = 0.0
    diastolic: float = 0.0
    pulse: float = 70.0
    glucose_mgdl: float = 0.0
    after_s: float = 0.0  # how long the resident takes before the meter stores the result
    taken_ago_s: float = 0.0  # the meter's time stamp this long before it stores it (a late
    # transfer: measured earlier, reaching the gateway only now)


class Resident:
    """The kiosk's `request_measurement` hook: the person at the kiosk uses the meter, i.e. a
    fresh record appears in the simulated meter's memory (as simulators.ble.resident does,
    with values the test chooses so it can check the category shown)."""

    def __init__(self, air: Air) -> None:
        self.air = air
        self.plan: dict[Kind, list[Planned]] = {Kind.BLOOD_PRESSURE: [], Kind.GLUCOSE: []}
        self.requested: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, kind: str) -> None:
        with self.lock:
            self.requested.append(kind)
            queue = self.plan[Kind(kind)]
            planned = queue.pop(0) if queue else None
        if planned is None:
            return  # nobody uses the meter: the kiosk times out
        if planned.after_s:
            # Called on the gateway's loop (from the kiosk's request handler).
            asyncio.get_running_loop().call_later(planned.after_s, self.store, kind, planned)
        else:
            self.store(kind, planned)

    def store(self, kind: str, planned: Planned) -> None:
        """A new record in the meter's memory (call on the gateway's loop)."""
        ago = timedelta(seconds=planned.taken_ago_s)
        for peripheral in self.air.peripherals:
            if kind == Kind.BLOOD_PRESSURE.value and isinstance(peripheral, BpMonitor):
                taken = (peripheral.clock.local_now() - ago).replace(microsecond=0)
                peripheral.records.append(
                    BpRecord(planned.systolic, planned.diastolic, planned.pulse, taken)
                )
                return
            if kind == Kind.GLUCOSE.value and isinstance(peripheral, GlucoseMeter):
                taken = (peripheral.clock.local_now() - ago).replace(microsecond=0)
                sequence = max((r.sequence for r in peripheral.records), default=0) + 1
                peripheral.records.append(glucose_record(sequence, taken, planned.glucose_mgdl))
                return


class LogCapture(logging.Handler):
    """Every record of every logger at DEBUG, formatted as it would be written out."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class MqttSpy:
    """A raw paho subscriber on gempita/#: every payload any client published."""

    def __init__(self, port: int) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id="e2e-spy", protocol=paho.MQTTv5
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.on_message = lambda _c, _u, msg: self.messages.append(
            (msg.topic, bytes(msg.payload))
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("spy did not subscribe")

    def _on_connect(self, client: paho.Client, *_args: Any) -> None:
        client.subscribe("gempita/#", qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Stack:
    """Handles to the running chain, usable from the test's (non-loop) thread."""

    loop: asyncio.AbstractEventLoop
    gateway: Gateway
    air: Air
    resident: Resident
    keys: KeyPair
    url: str
    outbox_path: Path
    central_db: Path
    bp_device: str
    glucose_device: str
    logs: LogCapture
    spy: MqttSpy
    central_rows: Callable[[], list[dict[str, Any]]] = field(repr=False)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def central_readings(self) -> list[dict[str, Any]]:
        return self.central_rows()

    def wait_central(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.central_readings()
            if predicate(rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError(f"central never satisfied the check; it holds {rows}")
            time.sleep(0.1)

    def wait_device_synced(self, timeout: float = 15.0) -> None:
        """Both meters read once (their stored memory is in the outbox) before anyone claims."""
        deadline = time.monotonic() + timeout
        while any(self.gateway.devices[n].readings_total == 0 for n in self.devices()):
            if time.monotonic() > deadline:
                raise AssertionError(f"devices never synced: {self.gateway.devices}")
            time.sleep(0.05)

    def devices(self) -> tuple[str, str]:
        return self.bp_device, self.glucose_device


def _central_rows(db: Path) -> Callable[[], list[dict[str, Any]]]:
    def rows() -> list[dict[str, Any]]:
        if not db.exists():
            return []
        with sqlite3.connect(db) as conn:
            try:
                found = conn.execute("SELECT payload FROM readings").fetchall()
            except sqlite3.OperationalError:
                return []
        return [json.loads(text) for (text,) in found]

    return rows


def _wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"nothing listens on {port}")


@contextmanager
def running_stack(
    tmp: Path, broker: Mosquitto, *, measurement_timeout_s: float = 30.0
) -> Iterator[Stack]:
    logs = LogCapture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(logs)
    root.setLevel(logging.DEBUG)
    spy = MqttSpy(broker.port)
    keys = generate_keypair()
    key_dir = tmp / "keys"
    key_dir.mkdir()
    (key_dir / "programme.key").write_text(PROGRAMME_KEY.hex())
    (key_dir / "central.pub").write_text(keys.public_key.hex())
    air = demo_air(devices=("bp", "glucose"), bp_records=2, glucose_records=3)
    devices = [
        # Poll the meters often so a test does not wait out the 5 s default between sessions.
        dataclasses.replace(d, options={**d.options, "poll_s": 0.2, "retry_initial_s": 0.2})
        for d in demo_device_configs(air)
    ]
    bp_name = next(d.name for d in devices if "blesmart" in d.name)
    glucose_name = next(d.name for d in devices if d.name != bp_name)
    port = free_port()
    config = parse_config(
        {
            "gateway": {"id": "gw-e2e", "site_id": "e2e-kiosk", "state_dir": str(tmp / "gw")},
            "mqtt": {
                "url": broker.url,
                "backoff_initial_s": 0.05,
                "backoff_max_s": 0.5,
                "status_interval_s": 1.0,
            },
            "kiosk": {
                "enabled": True,
                "host": "127.0.0.1",
                "port": port,
                "settings": {
                    "programme_key_file": str(key_dir / "programme.key"),
                    "central_public_key_file": str(key_dir / "central.pub"),
                    "admin_password_hash": admin_hash(),
                    "site_name": "Kios E2E",
                    "puskesmas_name": "Puskesmas Karang Jati",
                    "puskesmas_address": "Jl. Mayjen Sutoyo, Balikpapan Tengah",
                    "bp_device": bp_name,
                    "glucose_device": glucose_name,
                    "measurement_timeout_s": measurement_timeout_s,
                    "portal_host": f"127.0.0.1:{port}",
                    "poll_interval_ms": 200,
                },
            },
        },
        source="e2e",
    )
    (tmp / "gw").mkdir()
    config = dataclasses.replace(config, devices=tuple(devices))
    resident = Resident(air)
    gateway = build_gateway(config, measurement_hook=resident, status_file_interval_s=0.5)
    central_db = tmp / "central.db"
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()
    failure: list[BaseException] = []

    async def main() -> None:
        async with running_central(broker.url, central_db):
            task = asyncio.create_task(gateway.run(), name="gateway")
            started.set()
            stopping = asyncio.create_task(stop.wait(), name="stop")
            await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
            task.cancel()
            stopping.cancel()
            results = await asyncio.gather(task, stopping, return_exceptions=True)
            await air.aclose()
            if isinstance(results[0], Exception):
                raise results[0]

    def thread_main() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # reported to the test thread below
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=thread_main, name="e2e-stack")
    thread.start()
    try:
        if not started.wait(20) or failure:
            raise AssertionError(f"stack did not start: {failure}")
        _wait_port(port)
        yield Stack(
            loop=loop,
            gateway=gateway,
            air=air,
            resident=resident,
            keys=keys,
            url=f"http://127.0.0.1:{port}",
            outbox_path=config.outbox_path,
            central_db=central_db,
            bp_device=bp_name,
            glucose_device=glucose_name,
            logs=logs,
            spy=spy,
            central_rows=_central_rows(central_db),
        )
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(20)
        if thread.is_alive():
            # A shutdown bug: name the tasks that kept running instead of failing on close().
            stuck = [f"{t.get_name()}: {t.get_coro()!r}" for t in asyncio.all_tasks(loop)]
            raise AssertionError(f"the gateway did not stop within 20 s; still running: {stuck}")
        loop.close()
        spy.close()
        root.removeHandler(logs)
        root.setLevel(old_level)
    if failure:
        raise failure[0]


# --- a resident over plain HTTP (the same forms the browser posts) --------------------------

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    if match is None:
        raise AssertionError(f"page has no CSRF token: {html[:300]}")
    return match.group(1)


class HttpResident:
    """One kiosk visit driven through the real server with httpx (cookies kept per visit)."""

    def __init__(self, url: str, nik: str, year: str) -> None:
        self.client = httpx.Client(base_url=url, follow_redirects=True, timeout=10)
        self.nik = nik
        self.year = year
        self.page = ""

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        response = self.client.post(path, data={"csrf": csrf_of(self.page), **data})
        self.page = response.text
        return response

    def identify_and_choose(self, kind: Kind, fasting: str | None = None) -> None:
        self.page = self.client.post("/mulai", data={"lang": "id"}).text
        self.post("/persetujuan", {"choice": "adult"})
        self.post("/identitas", {"nik": self.nik, "birth_year": self.year})
        choice = {kind.value: "1"}
        if fasting is not None:
            choice["fasting"] = fasting
        response = self.post("/pilih", choice)
        if not str(response.url).endswith("/petunjuk"):
            raise AssertionError(f"not at the instructions: {response.url}")

    def ready(self) -> httpx.Response:
        return self.post("/ukur", {})

    def status(self) -> str:
        return str(self.client.get("/ukur/status").json()["state"])

    def wait_asked_again(self, timeout: float = 15.0) -> None:
        """Until the measuring screen asks the resident to measure once more."""
        deadline = time.monotonic() + timeout
        while not self.client.get("/ukur/status").json().get("again"):
            if time.monotonic() > deadline:
                raise AssertionError("the kiosk never asked to measure again")
            time.sleep(0.05)

    def wait_result(self, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while self.status() != "done":
            if time.monotonic() > deadline:
                raise AssertionError("no result arrived at the kiosk")
            time.sleep(0.1)
        response = self.client.get("/hasil")
        if not str(response.url).endswith("/hasil"):
            raise AssertionError(f"no result page: {response.url}")
        return response.text

    def finish(self) -> None:
        self.client.post("/selesai")

    def __enter__(self) -> HttpResident:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.close()


def after(moment: datetime, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Central rows received at the gateway after `moment` (UTC)."""
    return [r for r in rows if r["received_at"] and r["received_at"] >= rfc3339(moment)]
