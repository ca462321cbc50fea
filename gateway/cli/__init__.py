"""`gempita` — the command line of Gempita Edge, and its composition root.

This package is the top floor (ARCHITECTURE.md): the only place where the gateway, the kiosk,
central and the simulators are wired together (gateway/cli/compose.py), and nothing imports
it. One module per command; each adds its own sub-parser. Heavy imports (bleak, FastAPI,
Alembic) happen inside the command that needs them, so `gempita run` is ready fast and
`--help` is instant.
"""

from __future__ import annotations

import argparse

from central.errors import CentralConfigError
from core.errors import CoreError
from gateway import __version__
from gateway.cli import (
    bundle,
    central,
    decode,
    demo_measure,
    devices,
    drain,
    pki,
    replay,
    run,
    simulate,
    status,
)
from gateway.cli.output import EXIT_OK, EXIT_USAGE, Handler, fail
from gateway.errors import ConfigError

# In the order `gempita --help` lists them.
COMMANDS = (
    run,
    status,
    drain,
    bundle,
    central,
    pki,
    demo_measure,
    decode,
    simulate,
    replay,
    devices,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gempita",
        description="Gempita Edge: offline-first gateway for community health screening kiosks. "
        "Reads blood-pressure monitors and glucose meters (BLE, serial), keeps every reading "
        "in a durable outbox and delivers it to the central health system over MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"gempita {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (ConfigError, CentralConfigError) as exc:
        return fail(f"configuration: {exc}", EXIT_USAGE)
    except CoreError as exc:  # the gateway's errors and the core's (broker, payload)
        return fail(str(exc))
    except KeyboardInterrupt:
        return EXIT_OK
