"""(l) a gateway's connection dies -> its fleet row reads offline (issue 13).

A real `gempita run` process (default `mqtt.keepalive_s`, 30 s) connects to the benchmark's
mosquitto; central's `FleetMonitor` runs here with a SQLite store. Once the row reads online,
the gateway is SIGKILLed: t0 just before the kill, t1 when a query of the fleet table (what the
page runs, polled every few milliseconds from a worker thread) first reads offline. A kill
closes the socket in the kernel, so the broker sees the connection end at once and publishes
the Last Will; the keepalive plays no part in that path.

It does decide a silent death (power cut, cable pulled, a hung process): the socket stays open
and the broker waits one and a half keepalives before it gives the gateway up. Full mode
measures that once, with SIGSTOP standing in for the hang; it is reported, not judged against
the target, which is for a connection that died.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.common import GATEWAY_ID, Result, median, mosquitto
from central.fleet import FleetMonitor
from central.fleet_store import fleet_gateways
from central.store import CentralStore
from core.backoff import Backoff
from core.mqtt import BrokerSettings
from gateway.config import MqttSection

TARGET_S = 5.0
POLL_S = 0.005


def _config(state_dir: Path, url: str) -> Path:
    path = state_dir / "gateway.toml"
    path.write_text(
        f'[gateway]\nid = "{GATEWAY_ID}"\nstate_dir = "{state_dir}"\nlog_level = "WARNING"\n\n'
        f'[mqtt]\nurl = "{url}"\n'
    )
    return path


def _state(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        query = sa.select(fleet_gateways.c.state).where(fleet_gateways.c.gateway_id == GATEWAY_ID)
        value = conn.execute(query).scalar_one_or_none()
    return None if value is None else str(value)


async def _until(engine: sa.Engine, state: str, timeout_s: float) -> float:
    """perf_counter() when the row first reads `state`."""
    deadline = time.perf_counter() + timeout_s
    while True:
        if await asyncio.to_thread(_state, engine) == state:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise RuntimeError(f"fleet row not {state} within {timeout_s:.0f} s")
        await asyncio.sleep(POLL_S)


def _spawn(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _measure(url: str, rounds: int, silent: bool) -> tuple[list[float], float | None]:
    with tempfile.TemporaryDirectory(prefix="gempita-bench-fleet-") as tmp:
        root = Path(tmp)
        state_dir = root / "gw"
        state_dir.mkdir()
        config = _config(state_dir, url)
        store = await asyncio.to_thread(CentralStore, f"sqlite:///{root / 'central.db'}")
        monitor = FleetMonitor(
            store.engine,
            BrokerSettings(url=url, client_id="bench-fleet"),
            backoff=Backoff(initial_s=0.05, cap_s=0.5),
        )
        task = asyncio.create_task(monitor.run(), name="bench-fleet-monitor")
        kills: list[float] = []
        stopped: float | None = None
        try:
            for _ in range(rounds):
                gateway = _spawn(config)
                try:
                    await _until(store.engine, "online", 60)
                    t0 = time.perf_counter()
                    gateway.kill()
                    kills.append(await _until(store.engine, "offline", 60) - t0)
                finally:
                    gateway.kill()
                    await asyncio.to_thread(gateway.wait)
            if silent:
                gateway = _spawn(config)
                try:
                    await _until(store.engine, "online", 60)
                    t0 = time.perf_counter()
                    os.kill(gateway.pid, signal.SIGSTOP)
                    stopped = await _until(store.engine, "offline", 180) - t0
                finally:
                    gateway.kill()
                    os.kill(gateway.pid, signal.SIGCONT)
                    await asyncio.to_thread(gateway.wait)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await asyncio.to_thread(store.close)
    return kills, stopped


def run_fleet_lastwill(rounds: int, *, quick: bool) -> Result:
    keepalive = MqttSection().keepalive_s
    with mosquitto() as url:
        kills, stopped = asyncio.run(_measure(url, rounds, silent=not quick))
    result = Result(
        "(l) gateway SIGKILLed -> fleet row offline (Last Will)",
        target=f"<= {TARGET_S:.0f} s after the connection dies",
    )
    result.figures["gateway keepalive"] = f"{keepalive} s (mqtt.keepalive_s default)"
    result.figures["kill -> offline, each round"] = ", ".join(f"{k * 1000:.0f} ms" for k in kills)
    result.figures["kill -> offline, max"] = f"{max(kills) * 1000:.0f} ms"
    result.figures["kill -> offline, median"] = f"{median(kills) * 1000:.0f} ms"
    if stopped is not None:
        result.figures["silent (SIGSTOP) -> offline"] = (
            f"{stopped:.1f} s (broker: 1.5 x keepalive = {1.5 * keepalive:.0f} s)"
        )
    result.notes.append(
        "a killed process's socket is closed by its kernel: the broker fires the will at once; "
        "only a silent link waits for the keepalive"
    )
    if not quick:
        result.met = max(kills) <= TARGET_S
    return result
