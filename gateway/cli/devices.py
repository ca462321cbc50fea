"""`gempita devices scan|pair`: find and pair BLE meters."""

from __future__ import annotations

import argparse

from drivers.errors import DeviceUnavailableError, DriverError, UsageError
from gateway.cli.output import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    Subcommands,
    fail,
    run_async,
)


def cmd_devices(args: argparse.Namespace) -> int:
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
        return fail(str(exc), EXIT_FAIL)
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    except DriverError as exc:
        return fail(str(exc), EXIT_FAIL)
    print(f"bonded with {result.name} ({result.address})")
    return EXIT_OK


def register(sub: Subcommands) -> None:
    """Add this module's command(s) to the `gempita` sub-parsers."""
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
