"""`gempita replay`: a recorded BLE capture through the whole pipeline."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.errors import DecodeError, DriverError
from gateway.cli.output import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    Subcommands,
    fail,
    run_async,
)

if TYPE_CHECKING:
    from gateway.config import Config



def cmd_replay(args: argparse.Namespace) -> int:
    import logging

    from gateway.cli.compose import load_config
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


async def _replay(args: argparse.Namespace, config: Config) -> int:
    from gateway.cli.compose import running_gateway
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
            return fail(f"capture {args.capture}: {exc}", EXIT_USAGE)
        except DriverError as exc:
            return fail(f"replayed session failed: {exc}", EXIT_FAIL)
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
                return fail(
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


def register(sub: Subcommands) -> None:
    """Add this module's command(s) to the `gempita` sub-parsers."""
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
