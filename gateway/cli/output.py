"""What every `gempita` command shares: exit codes, error lines, logging, the event loop."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeAlias

DEFAULT_CONFIG = "/etc/gempita/gateway.toml"

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace], int]
# What `add_subparsers()` returns: each command module's `register()` adds its parser to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def fail(message: str, code: int = EXIT_FAIL) -> int:
    """Say what went wrong on stderr, as every command does, and return the exit code."""
    print(f"gempita: error: {message}", file=sys.stderr)
    return code


def run_async(main: Coroutine[Any, Any, int]) -> int:
    """Run a command's coroutine; SIGTERM and Ctrl-C cancel it so it can shut down in order."""

    async def wrapper() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            if task is not None:
                loop.add_signal_handler(sig, task.cancel)
        try:
            return await main
        except asyncio.CancelledError:
            return EXIT_OK

    return asyncio.run(wrapper())


def add_common(parser: argparse.ArgumentParser, config: bool = True) -> None:
    if config:
        parser.add_argument(
            "-c",
            "--config",
            default=DEFAULT_CONFIG,
            help=f"gateway configuration file (TOML; default {DEFAULT_CONFIG}; "
            "documented example: gateway.example.toml)",
        )
    parser.add_argument(
        "--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR (default from config)"
    )
