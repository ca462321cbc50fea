"""`gempita central`: the central service and the commands that work on its database.

With no command it runs the service (subscribe, store once, send receipts), so the unit
file and older scripts keep working; the commands below it read or carry on what it stored.
"""

from __future__ import annotations

from typing import Protocol

from gateway.cli.central import import_bundle, run
from gateway.cli.central.options import add_shared
from gateway.cli.output import Subcommands


class _Command(Protocol):
    def register(self, sub: Subcommands) -> None: ...


# Each module adds one command under `gempita central`, in the order --help lists them.
COMMANDS: tuple[_Command, ...] = (import_bundle,)


def register(sub: Subcommands) -> None:
    """Add `gempita central` and its commands to the `gempita` sub-parsers."""
    p = sub.add_parser(
        "central",
        help="run the central service, or work on its database",
        description="Without COMMAND: run the central service. It subscribes to every "
        "gateway's readings (MQTT v5 shared subscription "
        "'$share/gempita-central/gempita/v1/+/readings'), stores each reading once by id, "
        "and sends receipts back to the gateway. Several instances may share one broker and "
        "one database: the database's unique key decides which stored a reading. "
        "With COMMAND: see `gempita central COMMAND --help`.",
    )
    add_shared(p, on_command=False)
    run.add_arguments(p)
    p.set_defaults(handler=run.cmd_central)
    commands = p.add_subparsers(dest="central_command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
