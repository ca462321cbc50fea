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
import time
from datetime import UTC, datetime
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


# The demo's staff accounts on central's pages (printed at start; a demo, not a deployment).
DEMO_STAFF_PASSWORD = "demo-central-1"  # noqa: S105 (printed for the user: a demo account)
# The demo kiosk's place: its site id in the demo's wilayah (central places readings by it).
DEMO_WILAYAH = {
    "kecamatan": [
        {"code": "647106", "name": "Balikpapan Kota"},
        {"code": "647101", "name": "Balikpapan Selatan"},
    ],
    "kelurahan": [
        {
            "code": "6471061001",
            "name": "Klandasan Ilir",
            "kecamatan": "647106",
            "target_15_plus": 12000,
            "target_40_plus": 5200,
        },
        {
            "code": "6471011001",
            "name": "Sepinggan",
            "kecamatan": "647101",
            "target_15_plus": 21000,
            "target_40_plus": 9000,
        },
    ],
    # The live demo kiosk, and the sites of the seeded history (demo_history.py).
    "site": [
        {"id": "demo-kiosk", "name": "Kios Gempita (demo)", "kelurahan": "6471061001"},
        {"id": "kios-klandasan", "name": "Kios Klandasan", "kelurahan": "6471061001"},
        {"id": "kit-klandasan", "name": "Kit kader Klandasan", "kelurahan": "6471061001"},
        {"id": "kios-sepinggan", "name": "Kios Sepinggan", "kelurahan": "6471011001"},
        {"id": "kit-sepinggan", "name": "Kit kader Sepinggan", "kelurahan": "6471011001"},
    ],
}


def _central_web(store: Any, port: int) -> tuple[socket.socket, Any]:
    """Central's staff pages for the demo: its places and two accounts, made once."""
    from central.web.accounts import AccountStore
    from central.web.auth import Role
    from central.web.errors import AccountError
    from central.web.settings import WebSettings
    from central.wilayah import parse_wilayah
    from gateway.cli.central.run import bind_listener

    accounts = AccountStore(store.engine, time.time)
    known = {a.principal.username for a in accounts.list()}
    staff = (
        ("dinkes01", Role.DINKES, None, ()),
        ("puskesmas01", Role.PUSKESMAS, "pkm-karang-jati", ("6471061001",)),
    )
    for name, role, puskesmas, wilayah in staff:
        if name not in known:
            with contextlib.suppress(AccountError):
                accounts.add(
                    name, DEMO_STAFF_PASSWORD, role, puskesmas_id=puskesmas, wilayah=wilayah
                )
    settings = WebSettings(host="127.0.0.1", port=port, wilayah=parse_wilayah(DEMO_WILAYAH, "demo"))
    try:
        sock = bind_listener("127.0.0.1", port)
    except OSError as exc:
        raise GatewayError(
            f"central's pages cannot listen on 127.0.0.1:{port} ({exc.strerror}): "
            "give another with --central-port"
        ) from exc
    return sock, settings


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
    from central.fleet import FleetMonitor
    from central.service import CentralService
    from central.store import CentralStore
    from core.mqtt import BrokerSettings
    from gateway.cli.central.run import print_reading, serve_web
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
    if not args.no_history:
        from gateway.cli.demo_history import DAYS, GATEWAYS, seed_history

        stored = await asyncio.to_thread(seed_history, store, datetime.now(UTC))
        print(
            f"history: {stored} past screenings stored ({DAYS} days, {len(GATEWAYS)} simulated "
            "gateways; --no-history: none)",
            flush=True,
        )

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

    web_sock, web_settings = await asyncio.to_thread(_central_web, store, args.central_port)
    fleet = FleetMonitor(
        store.engine, BrokerSettings(url=url, client_id="central-demo-fleet", session_expiry_s=0)
    )
    print(f"kiosk:   http://127.0.0.1:{args.kiosk_port}/", flush=True)
    print(f"kader:   http://127.0.0.1:{args.kiosk_port}/kader  (kader01, PIN 1234)", flush=True)
    print(f"admin:   http://127.0.0.1:{args.kiosk_port}/admin  (password demo-admin)", flush=True)
    print(f"status:  gempita status --config {state / 'gateway.toml'}", flush=True)
    print(
        f"central: http://127.0.0.1:{args.central_port}/  (dinkes01 / {DEMO_STAFF_PASSWORD}: "
        f"the whole city; puskesmas01 / {DEMO_STAFF_PASSWORD}: Klandasan Ilir only)",
        flush=True,
    )
    _write_status_config(state, url)
    print("devices: " + ", ".join(d.name for d in devices) + " (simulated BLE)", flush=True)
    every = 0.0 if args.no_auto_resident else args.every
    if every > 0:
        print(
            f"resident: a simulated resident measures every {every:g} s "
            "(--no-auto-resident: only on request)",
            flush=True,
        )
    print(
        f"measure: gempita demo measure --state-dir {state} --bp 150/95 "
        "(or --glucose 250 [--fasting], HI, LO, --control-solution)",
        flush=True,
    )
    print("Ctrl-C stops everything.", flush=True)
    try:
        async with asyncio.timeout(args.duration or None), asyncio.TaskGroup() as group:
            group.create_task(central.run(), name="central")
            group.create_task(fleet.run(), name="central-fleet")
            group.create_task(serve_web(store.engine, web_settings, web_sock), name="central-web")
            group.create_task(gateway.run(), name="gateway")
            group.create_task(_residents(resident, every), name="simulated-residents")
            if not args.no_history:
                from gateway.cli.demo_history import keep_statuses_fresh

                group.create_task(keep_statuses_fresh(store), name="demo-history-statuses")
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
