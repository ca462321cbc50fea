"""`gempita central`: the central service and the commands that work on its database.

With no command it runs the service (subscribe, store once, send receipts), so the unit
file and older scripts keep working; the commands below it read or carry on what it stored.
Every one of them gets the same checked configuration (options.py): the handler sees
`args.central_config`, and `args.db` / `args.log_level` already resolved from flag, file
and default.
"""

from __future__ import annotations

import argparse
from typing import Protocol

from gateway.cli.central import export_fhir, import_bundle, run, status, users
from gateway.cli.central.options import CONFIG_EPILOG, add_shared, apply_config
from gateway.cli.output import Handler, Subcommands


class _Command(Protocol):
    def register(self, sub: Subcommands) -> None: ...


# Each module adds one command under `gempita central`, in the order --help lists them.
COMMANDS: tuple[_Command, ...] = (status, users, export_fhir, import_bundle)

_DESCRIPTION = """\
Without COMMAND: run the central service. It subscribes to every gateway's readings
(MQTT v5 shared subscription '$share/gempita-central/gempita/v1/+/readings'), stores
each reading once by id, and sends receipts back to the gateway. Several instances may
share one broker and one database: the database's unique key decides which stored a
reading. With COMMAND: see `gempita central COMMAND --help`.
"""


def _configured(handler: Handler) -> Handler:
    def configured(args: argparse.Namespace) -> int:
        apply_config(args)
        return handler(args)

    return configured


def register(sub: Subcommands) -> None:
    """Add `gempita central` and its commands to the `gempita` sub-parsers."""
    p = sub.add_parser(
        "central",
        help="run the central service, or work on its database",
        description=_DESCRIPTION,
        epilog=CONFIG_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_shared(p, on_command=False)
    run.add_arguments(p)
    p.set_defaults(handler=_configured(run.cmd_central))
    commands = p.add_subparsers(dest="central_command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    # Wrapped here, once, so a command added to COMMANDS cannot forget the config file.
    for parser in commands.choices.values():
        handler = parser.get_default("handler")
        if handler is not None:
            parser.set_defaults(handler=_configured(handler))
