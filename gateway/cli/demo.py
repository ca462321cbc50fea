"""`gempita demo`: broker + central + gateway + simulated devices + kiosk, on one machine."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import dataclasses
import getpass
import logging
import os
import random
import shutil
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from gateway.config import parse_config, with_site_timezone
from gateway.errors import GatewayError
from simulators.ble.cli import demo_air, demo_device_configs
from simulators.ble.resident import DemoResident, NoMeterError, Placed
from simulators.demo_socket import (
    MeasureReply,
    MeasureRequest,
    SocketInUseError,
    claim_socket,
    serve,
    socket_path,
)

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


def _die_with_parent() -> None:
    """In the broker's child process: get SIGTERM if the demo dies (even by kill -9)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


async def _start_mosquitto(state: Path) -> tuple[asyncio.subprocess.Process, str]:
    binary, conf, port = _broker_config(state)
    # Its own session: Ctrl-C in the terminal reaches only the demo, which then stops the
    # broker last, after the gateway has said goodbye to it.
    proc = await asyncio.create_subprocess_exec(
        binary,
        "-c",
        str(conf),
        stdout=asyncio.subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return proc, f"mqtt://127.0.0.1:{port}"
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.05)
    proc.kill()
    raise GatewayError(f"mosquitto did not start; see {conf.parent}/mosquitto.log")


def _prepare_state(directory: str) -> Path:
    state = Path(directory).resolve()
    state.mkdir(parents=True, exist_ok=True)
    return state


async def run_demo(args: argparse.Namespace) -> int:
    from central.service import CentralService
    from central.store import CentralStore
    from core.mqtt import BrokerSettings
    from gateway.cli.central.run import print_reading
    from gateway.cli.compose import build_gateway

    state = _prepare_state(args.state_dir)
    control = socket_path(state)
    try:
        claim_socket(control)
    except SocketInUseError as exc:
        raise GatewayError(str(exc)) from exc
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
    air = demo_air(devices=("bp", "glucose"), bp_records=2, glucose_records=5)
    devices = demo_device_configs(air)
    bp_name = next(d.name for d in devices if "blesmart" in d.name)
    glucose_name = next(d.name for d in devices if d.name != bp_name)
    kiosk_settings = _demo_kiosk_secrets(state)
    kiosk_settings.update(
        {
            "site_name": "Kios Gempita (demo)",
            "puskesmas_name": "Puskesmas Karang Jati",
            "puskesmas_address": "Jl. Mayjen Sutoyo, Balikpapan Tengah",
            "bp_device": bp_name,
            "glucose_device": glucose_name,
            "measurement_timeout_s": 60.0,
            "portal_host": f"127.0.0.1:{args.kiosk_port}",
        }
    )
    config = parse_config(
        {
            "gateway": {"id": "gw-demo", "site_id": "demo-kiosk", "state_dir": str(state / "gw")},
            "mqtt": {"url": url, "status_interval_s": 10.0},
            "kiosk": {
                "enabled": True,
                "host": "127.0.0.1",
                "port": args.kiosk_port,
                "settings": kiosk_settings,
            },
        },
        source="demo",
    )
    # The kiosk binds readings from these two devices to the resident on screen; their clocks
    # are read in gateway.timezone, as a configured gateway's are.
    config = dataclasses.replace(
        config, devices=with_site_timezone(tuple(devices), config.gateway.timezone)
    )
    resident = DemoResident(air, random.Random())  # noqa: S311 - simulated values, not secrets

    gateway = build_gateway(config, measurement_hook=resident.on_kiosk_request)

    def chosen(request: MeasureRequest) -> MeasureReply:
        try:
            placed = resident.choose(request.chosen, at_kiosk=request.at_kiosk)
        except NoMeterError as exc:
            return MeasureReply(error="no_meter", detail=str(exc))
        if placed is Placed.MEMORY:
            # The meter "advertises after measuring": read it now, not at the next poll.
            gateway.wake_devices(request.chosen.kind.value)
        return MeasureReply(placed=placed)
    print(f"kiosk:   http://127.0.0.1:{args.kiosk_port}/", flush=True)
    print(f"kader:   http://127.0.0.1:{args.kiosk_port}/kader  (kader01, PIN 1234)", flush=True)
    print(f"admin:   http://127.0.0.1:{args.kiosk_port}/admin  (password demo-admin)", flush=True)
    print(f"status:  gempita status --config {state / 'gateway.toml'}", flush=True)
    _write_status_config(state, url)
    print("devices: " + ", ".join(d.name for d in devices) + " (simulated BLE)", flush=True)
    every = 0.0 if args.no_auto_resident else args.every
    if every > 0:
        print(f"resident: a simulated resident measures every {every:g} s "
              "(--no-auto-resident: only on request)", flush=True)
    print(f"measure: gempita demo measure --state-dir {state} --bp 150/95 "
          "(or --glucose 250 [--fasting], HI, LO, --control-solution)", flush=True)
    print("Ctrl-C stops everything.", flush=True)
    try:
        async with asyncio.timeout(args.duration or None), asyncio.TaskGroup() as group:
            group.create_task(central.run(), name="central")
            group.create_task(gateway.run(), name="gateway")
            group.create_task(_residents(resident, every), name="simulated-residents")
            group.create_task(serve(control, chosen), name="demo-control-socket")
    except (asyncio.CancelledError, TimeoutError):
        pass
    finally:
        await air.aclose()
        store.close()
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await proc.wait()
        print("demo stopped.", file=sys.stderr, flush=True)
    return 0


async def _residents(resident: DemoResident, every_s: float) -> None:
    """Now and then somebody measures themselves at the kiosk."""
    while every_s > 0:
        await asyncio.sleep(every_s)
        resident.random_measurement()


def _demo_kiosk_secrets(state: Path) -> dict[str, Any]:
    """Demo-only keys and passwords, written to the demo's state directory (never reused)."""
    from kiosk.privacy import generate_keypair
    from kiosk.security import hash_secret

    keys = state / "keys"
    keys.mkdir(exist_ok=True)
    programme = keys / "programme.key"
    central_pub = keys / "central.pub"
    if not programme.exists():
        programme.write_text(os.urandom(32).hex())
        pair = generate_keypair()
        (keys / "central.key").write_text(pair.private_key.hex())
        central_pub.write_text(pair.public_key.hex())
    return {
        "programme_key_file": str(programme),
        "central_public_key_file": str(central_pub),
        "admin_password_hash": hash_secret("demo-admin"),
        "kader_pin_hashes": {"kader01": hash_secret("1234")},
    }


def _write_status_config(state: Path, url: str) -> None:
    (state / "gateway.toml").write_text(
        f'[gateway]\nid = "gw-demo"\nstate_dir = "{state / "gw"}"\n[mqtt]\nurl = "{url}"\n'
    )
