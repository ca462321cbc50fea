"""`gempita simulate`: software devices for demos and manual testing."""

from __future__ import annotations

import argparse

from gateway.cli.output import (
    Subcommands,
    run_async,
)


def cmd_simulate(args: argparse.Namespace) -> int:
    if args.sim_transport == "ble":
        from simulators.ble import cli as ble_cli

        return run_async(ble_cli.run(args))
    from simulators.serial import cli as serial_cli

    return run_async(serial_cli.run(args))


def register(sub: Subcommands) -> None:
    """Add this module's command(s) to the `gempita` sub-parsers."""
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
