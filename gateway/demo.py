"""`gempita demo`: broker + central + gateway + simulated devices + kiosk, on one machine."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from gateway.config import parse_config
from gateway.errors import GatewayError

_LOGGER = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _broker_config(state: Path) -> tuple[str, Path, int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise GatewayError("mosquitto is not installed: run `make demo` (it installs it)")
    port = _free_port()
    broker_dir = state / "broker"
    broker_dir.mkdir(parents=True, exist_ok=True)
    conf = broker_dir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
        f"persistence true\npersistence_location {broker_dir}/\n"
        "max_queued_messages 1000000\n"
        f"log_dest file {broker_dir}/mosquitto.log\n"
    )
    return binary, conf, port


async def _start_mosquitto(state: Path) -> tuple[asyncio.subprocess.Process, str]:
    binary, conf, port = _broker_config(state)
    proc = await asyncio.create_subprocess_exec(
        binary, "-c", str(conf), stdout=asyncio.subprocess.DEVNULL
    )
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return proc, f"mqtt://127.0.0.1:{port}"
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.05)
    proc.kill()
    raise GatewayError(f"mosquitto did not start; see {conf.parent}/mosquitto.log")


def demo_devices() -> list[dict[str, Any]]:
    """The simulated devices the demo runs: BLE simulators where available, else synthetic."""
    try:
        from simulators.ble.cli import demo_device_configs
    except ImportError:
        return [
            {
                "name": "bp-sim",
                "transport": "simulated",
                "kind": "blood_pressure",
                "options": {"rate_per_s": 0.5},
            },
            {
                "name": "glucose-sim",
                "transport": "simulated",
                "kind": "glucose",
                "options": {"rate_per_s": 0.3},
            },
        ]
    devices: list[dict[str, Any]] = demo_device_configs()
    return devices


def _prepare_state(directory: str) -> Path:
    state = Path(directory).resolve()
    state.mkdir(parents=True, exist_ok=True)
    return state


async def run_demo(args: argparse.Namespace) -> int:
    from central.service import CentralService
    from central.store import CentralStore
    from gateway.cli import print_reading
    from gateway.mqtt import BrokerSettings
    from gateway.service import Gateway

    state = _prepare_state(args.state_dir)
    proc, url = await _start_mosquitto(state)
    print(f"broker:  mosquitto at {url}", flush=True)
    store = CentralStore(f"sqlite:///{state / 'central.db'}")

    def show(payloads: list[dict[str, Any]]) -> None:
        for payload in payloads:
            print_reading(payload)

    central = CentralService(
        store,
        BrokerSettings(url=url, client_id="central-demo", session_expiry_s=3600),
        on_stored=show,
    )
    config = parse_config(
        {
            "gateway": {"id": "gw-demo", "site_id": "demo-kiosk", "state_dir": str(state / "gw")},
            "mqtt": {"url": url, "status_interval_s": 10.0},
            "kiosk": {"enabled": True, "host": "127.0.0.1", "port": args.kiosk_port},
            "devices": demo_devices(),
        },
        source="demo",
    )
    gateway = Gateway(config)
    print(f"kiosk:   http://127.0.0.1:{args.kiosk_port}/", flush=True)
    print(f"status:  gempita status --config {state / 'gateway.toml'}", flush=True)
    (state / "gateway.toml").write_text(
        f'[gateway]\nid = "gw-demo"\nstate_dir = "{state / "gw"}"\n[mqtt]\nurl = "{url}"\n'
    )
    print("Ctrl-C stops everything.", flush=True)
    try:
        async with asyncio.timeout(args.duration or None), asyncio.TaskGroup() as group:
            group.create_task(central.run(), name="central")
            group.create_task(gateway.run(), name="gateway")
    except (asyncio.CancelledError, TimeoutError):
        pass
    finally:
        store.close()
        proc.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
        print("demo stopped.", file=sys.stderr, flush=True)
    return 0
