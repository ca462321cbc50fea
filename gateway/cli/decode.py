"""`gempita decode`: a BLE characteristic value or a recorded serial meter stream."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from drivers.errors import DecodeError, UsageError
from gateway.cli.output import (
    EXIT_OK,
    EXIT_USAGE,
    Subcommands,
    fail,
)


def cmd_decode(args: argparse.Namespace) -> int:
    if args.protocol:
        return _decode_serial(args)
    if len(args.inputs) < 2:
        return fail("usage: gempita decode CHAR HEX  (or --protocol NAME FILE|-)", EXIT_USAGE)
    from drivers.ble.decode_cli import decode_characteristic

    char, hex_text = args.inputs[0], "".join(args.inputs[1:])
    try:
        result = decode_characteristic(char, hex_text, quirk=args.quirk)
    except DecodeError as exc:
        return fail(f"cannot decode {char}: {exc}", EXIT_USAGE)
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return EXIT_OK


def _decode_serial(args: argparse.Namespace) -> int:
    from drivers.serial.decode_stream import decode_stream, read_stream_input

    if len(args.inputs) != 1:
        return fail("usage: gempita decode --protocol NAME FILE|-", EXIT_USAGE)
    source = args.inputs[0]
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        return fail(f"cannot read {source}: {exc.strerror or exc}", EXIT_USAGE)
    try:
        records = decode_stream(args.protocol, read_stream_input(raw))
    except DecodeError as exc:
        where = f" at offset {exc.offset}" if exc.offset is not None else ""
        return fail(f"bad frame{where}: {exc.reason}", EXIT_USAGE)
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    print(json.dumps(records, indent=2, ensure_ascii=False, default=str))
    return EXIT_OK


def register(sub: Subcommands) -> None:
    """Add this module's command(s) to the `gempita` sub-parsers."""
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
