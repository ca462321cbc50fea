"""Device-side commands: decode, simulate, replay, devices scan/pair (drivers/ + simulators/)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from drivers.errors import DecodeError, DeviceUnavailableError, DriverError, UsageError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _err(message: str, code: int) -> int:
    print(f"gempita: error: {message}", file=sys.stderr)
    return code


# --- decode ---------------------------------------------------------------------------------


def cmd_decode(args: argparse.Namespace) -> int:
    if args.protocol:
        return _decode_serial(args)
    if len(args.inputs) < 2:
        return _err("usage: gempita decode CHAR HEX  (or --protocol NAME FILE|-)", EXIT_USAGE)
    from drivers.ble.decode_cli import decode_characteristic

    char, hex_text = args.inputs[0], "".join(args.inputs[1:])
    try:
        result = decode_characteristic(char, hex_text, quirk=args.quirk)
    except DecodeError as exc:
        return _err(f"cannot decode {char}: {exc}", EXIT_USAGE)
    except UsageError as exc:
        return _err(str(exc), EXIT_USAGE)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return EXIT_OK


def _decode_serial(args: argparse.Namespace) -> int:
    from drivers.serial.decode_stream import decode_stream, read_stream_input

    if len(args.inputs) != 1:
        return _err("usage: gempita decode --protocol NAME FILE|-", EXIT_USAGE)
    source = args.inputs[0]
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        return _err(f"cannot read {source}: {exc.strerror or exc}", EXIT_USAGE)
    try:
        records = decode_stream(args.protocol, read_stream_input(raw))
    except DecodeError as exc:
        where = f" at offset {exc.offset}" if exc.offset is not None else ""
        return _err(f"bad frame{where}: {exc.reason}", EXIT_USAGE)
    except UsageError as exc:
        return _err(str(exc), EXIT_USAGE)
    print(json.dumps(records, indent=2, ensure_ascii=False, default=str))
    return EXIT_OK


# --- simulate -------------------------------------------------------------------------------


def cmd_simulate(args: argparse.Namespace) -> int:
    from gateway.cli import run_async

    if args.sim_transport == "ble":
        from simulators.ble import cli as ble_cli

        return run_async(ble_cli.run(args))
    from simulators.serial import cli as serial_cli

    return run_async(serial_cli.run(args))


# --- replay ---------------------------------------------------------------------------------


def cmd_replay(args: argparse.Namespace) -> int:
    import logging

    from gateway.cli import run_async
    from gateway.compose import load_config
    from gateway.config import KioskSection, parse_config

    logging.basicConfig(level=getattr(logging, (args.log_level or "WARNING").upper()))
    if args.config:
        config = load_config(args.config)
    else:
        state = tempfile.mkdtemp(prefix="gempita-replay-")
        config = parse_config({"gateway": {"id": "gw-replay", "state_dir": state}})
    if args.broker:
        parse_config({"mqtt": {"url": args.broker}})  # validates the URL, naming the option
    # Only the replayed session runs: no configured devices, no kiosk, no periodic status.
    mqtt = dataclasses.replace(
        config.mqtt, url=args.broker or config.mqtt.url, status_interval_s=3600.0
    )
    config = dataclasses.replace(config, mqtt=mqtt, devices=(), kiosk=KioskSection())
    return run_async(_replay(args, config))


async def _replay(args: argparse.Namespace, config: Any) -> int:
    from gateway.compose import running_gateway
    from simulators.ble.replay import replay_capture

    async with running_gateway(config) as gateway:
        try:
            result = await replay_capture(
                Path(args.capture),
                gateway.outbox,
                gateway_id=config.gateway.id,
                site_id=config.gateway.site_id or None,
                kind=args.kind,
                quirk=args.quirk,
            )
        except DecodeError as exc:
            return _err(f"capture {args.capture}: {exc}", EXIT_USAGE)
        except DriverError as exc:
            return _err(f"replayed session failed: {exc}", EXIT_FAIL)
        ids = [r.id for r in result.readings]
        print(
            f"replayed {result.device_name}: {len(ids)} readings "
            f"({result.stored} new, {result.duplicates} already in the outbox)",
            flush=True,
        )
        deadline = time.monotonic() + args.timeout
        while True:
            states = await gateway.outbox.states(ids)
            waiting = [i for i in ids if states.get(i) not in ("published", "confirmed")]
            if not waiting:
                break
            if time.monotonic() > deadline:
                error = gateway.publisher.state.last_error or "no answer from the broker"
                return _err(
                    f"{len(waiting)} of {len(ids)} readings not acknowledged by "
                    f"{config.mqtt.url} within {args.timeout:.0f} s ({error})",
                    EXIT_FAIL,
                )
            await asyncio.sleep(0.05)
        for reading in result.readings:
            print(
                json.dumps(
                    {
                        "id": reading.id,
                        "kind": reading.kind.value,
                        "measured_at": reading.measured_at.isoformat(),
                    }
                )
            )
        print(f"all {len(ids)} readings acknowledged by the broker (PUBACK)", flush=True)
        return EXIT_OK


# --- devices --------------------------------------------------------------------------------


def cmd_devices(args: argparse.Namespace) -> int:
    from gateway.cli import run_async

    return run_async(_devices(args))


async def _devices(args: argparse.Namespace) -> int:
    try:
        if args.devices_command == "scan":
            from drivers.ble.scan import scan

            found = await scan(args.timeout)
            if not found:
                print(
                    "no blood-pressure or glucose devices found nearby "
                    "(is the meter awake / in pairing mode?)"
                )
            for device in found:
                profile = device.profile.value if device.profile else "unknown"
                print(
                    f"{device.address}  {device.name or '-':24} {profile:15} "
                    f"rssi={device.rssi} quirk={device.quirk or '-'}"
                )
            return EXIT_OK
        from drivers.ble.pair import pair

        result = await pair(args.address, passkey=args.passkey)
    except DeviceUnavailableError as exc:
        return _err(str(exc), EXIT_FAIL)
    except UsageError as exc:
        return _err(str(exc), EXIT_USAGE)
    except DriverError as exc:
        return _err(str(exc), EXIT_FAIL)
    print(f"bonded with {result.name} ({result.address})")
    return EXIT_OK


# --- registration ---------------------------------------------------------------------------


def add_device_commands(sub: Any) -> None:
    """Register the device commands on the `gempita` sub-parser set."""
    p = sub.add_parser(
        "decode",
        help="decode a BLE characteristic value or a recorded serial meter stream",
        description="BLE: `gempita decode CHAR HEX` — CHAR is a 16-bit UUID (2a35), a full UUID "
        "or a name (blood_pressure_measurement); prints the decoded value as JSON (field names "
        "in drivers/ble/DECODE.md). Serial: `gempita decode --protocol NAME FILE|-` decodes a "
        "recorded meter-to-host byte stream (hex text or raw bytes) into JSON records. "
        "Malformed input: a clear error and exit code 2.",
    )
    p.add_argument(
        "inputs", nargs="+", metavar="ARG", help="CHAR HEX..., or FILE|- with --protocol"
    )
    p.add_argument("--protocol", help="serial protocol family (e.g. onetouch-ultra2, contour)")
    p.add_argument("--quirk", help="BLE: decode with a device family's quirk (e.g. beurer)")
    p.set_defaults(handler=cmd_decode)

    p = sub.add_parser(
        "simulate",
        help="run simulated devices (BLE peripherals or serial meters)",
        description="Run software devices for demos and manual testing.",
    )
    sim = p.add_subparsers(dest="sim_transport", metavar="TRANSPORT", required=True)
    from simulators.ble import cli as ble_cli
    from simulators.serial import cli as serial_cli

    ble = sim.add_parser(
        "ble",
        help="simulated BLE meters read by the real gateway sessions (in-process)",
        description="Simulated BLE blood-pressure monitors and glucose meters on an in-process "
        "bleak backend, read by the gateway's real sessions; prints each reading as JSON.",
    )
    ble_cli.add_arguments(ble)
    ser = sim.add_parser(
        "serial",
        help="a simulated serial meter on a pseudo-terminal",
        description="Run a simulated cable meter on a pseudo-terminal; prints the port path "
        "(point a [[devices]] port or `gempita decode` at it) and runs until stopped.",
    )
    serial_cli.add_arguments(ser)
    p.set_defaults(handler=cmd_simulate)

    p = sub.add_parser(
        "replay",
        help="run a recorded BLE capture through the whole pipeline",
        description="Replay a JSON Lines BLE capture (recorded with the `record` device option) "
        "through the real session, outbox and MQTT publisher; exit 0 once every reading is "
        "acknowledged by the broker (PUBACK), non-zero with a reason otherwise.",
    )
    p.add_argument("capture", metavar="CAPTURE.jsonl")
    p.add_argument("-c", "--config", help="gateway config (default: a temporary outbox)")
    p.add_argument("--broker", help="broker URL, overrides mqtt.url (e.g. mqtt://127.0.0.1:1883)")
    p.add_argument("--kind", choices=("blood_pressure", "glucose"), help="force the profile")
    p.add_argument("--quirk", help="force a quirk family")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for PUBACKs")
    p.add_argument("--log-level", default=None)
    p.set_defaults(handler=cmd_replay)

    p = sub.add_parser(
        "devices",
        help="find and pair BLE meters",
        description="BLE device set-up: `scan` lists nearby blood-pressure and glucose devices "
        "with their profile; `pair ADDRESS` bonds a meter (see README, 'Pairing a meter').",
    )
    dev = p.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    s = dev.add_parser("scan", help="list nearby BP/glucose devices")
    s.add_argument("--timeout", type=float, default=10.0, help="scan time in seconds")
    pr = dev.add_parser("pair", help="bond with a meter")
    pr.add_argument("address", help="the meter's Bluetooth address (from `devices scan`)")
    pr.add_argument("--passkey", help="the PIN the meter shows (Accu-Chek and similar)")
    p.set_defaults(handler=cmd_devices)
