"""Options every `gempita central` command shares, wherever the user writes them.

They are declared on `gempita central` itself and again on each of its commands with a
suppressed default, so `gempita central --db URL status` and `gempita central status --db URL`
mean the same: a command's parser sets only what was written after the command's name.
"""

from __future__ import annotations

import argparse

DEFAULT_DB = "sqlite:///central.db"


def add_shared(parser: argparse.ArgumentParser, *, on_command: bool = True) -> None:
    def default(value: str | None) -> str | None:
        return argparse.SUPPRESS if on_command else value

    parser.add_argument(
        "--db",
        default=default(DEFAULT_DB),
        help=f"SQLAlchemy database URL (default {DEFAULT_DB}; for a city "
        "postgresql+psycopg://user@host/db)",
    )
    parser.add_argument(
        "--log-level",
        default=default(None),
        help="DEBUG, INFO, WARNING or ERROR (default INFO)",
    )
