"""``gempita simulate serial --protocol NAME [--records N]``: a meter on a pseudo-terminal.

Prints the port path (point a device's ``port`` at it) and serves until stopped.
"""

from __future__ import annotations

import argparse
import asyncio

from drivers.serial import registry as driver_registry
from simulators.serial.registry import load_simulator, simulator_names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--protocol",
        required=True,
        help=f"meter protocol ({', '.join(simulator_names())})",
    )
    parser.add_argument(
        "--records", type=int, default=10, help="records in the meter memory (default 10)"
    )
    parser.add_argument(
        "--drift-s",
        type=float,
        default=0.0,
        help="meter clock minus true time, in seconds (default 0)",
    )


async def run(args: argparse.Namespace) -> int:
    factory = load_simulator(args.protocol)
    if args.records < 0:
        print("--records must be >= 0")
        return 2
    meter = factory(records=args.records, drift_s=args.drift_s)
    name = driver_registry.get(args.protocol).name
    await meter.start()
    try:
        print(f"{name} simulator on {meter.path} ({args.records} records); Ctrl-C stops it",
              flush=True)
        await asyncio.Event().wait()
    finally:
        await meter.stop()
    return 0
