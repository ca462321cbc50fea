"""`gempita run`: the gateway service, as systemd starts it."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli.compose import load_config
from gateway.cli.output import (
    EXIT_OK,
    Subcommands,
    add_common,
    run_async,
    setup_logging,
)

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.service import Gateway



def with_ble_recording(config: Config, directory: Path) -> Config:
    """Every BLE device also writes a capture of each session into `directory`."""
    import types

    directory.mkdir(parents=True, exist_ok=True)
    devices = tuple(
        dataclasses.replace(
            d, options=types.MappingProxyType({**d.options, "record": str(directory)})
        )
        if d.transport == "ble"
        else d
        for d in config.devices
    )
    return dataclasses.replace(config, devices=devices)


def cmd_run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.record:
        config = with_ble_recording(config, Path(args.record))
    setup_logging(args.log_level or config.gateway.log_level)
    from gateway.cli.compose import build_gateway

    gateway = build_gateway(config)
    return run_async(_run_gateway(gateway))


async def _run_gateway(gateway: Gateway) -> int:
    await gateway.run()
    return EXIT_OK


def register(sub: Subcommands) -> None:
    """Add this module's command(s) to the `gempita` sub-parsers."""
    p = sub.add_parser(
        "run",
        help="run the gateway service",
        description="Run the gateway: device sessions, outbox, publisher, kiosk (if enabled). "
        "Under systemd it reports READY and pings the watchdog. Stops cleanly on SIGTERM.",
    )
    add_common(p)
    p.add_argument(
        "--record",
        metavar="DIR",
        help="write a JSON Lines capture of every BLE session into DIR (one file per session), "
        "to replay a field problem later with `gempita replay`",
    )
    p.set_defaults(handler=cmd_run)
