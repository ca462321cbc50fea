"""`gempita outbox drain`: publish what is pending now, with a progress bar."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from typing import TYPE_CHECKING

from gateway.cli.compose import load_config
from gateway.cli.output import (
    EXIT_FAIL,
    EXIT_OK,
    Subcommands,
    add_common,
    run_async,
    setup_logging,
)

if TYPE_CHECKING:
    from gateway.config import Config



def cmd_outbox_drain(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    setup_logging(args.log_level or "WARNING")
    return run_async(_drain(config, args.timeout, args.until))


async def _drain(config: Config, timeout_s: float, until: str) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from gateway.cli.compose import running_gateway
    from gateway.config import KioskSection
    from gateway.outbox_store import OutboxStore

    # Count before the publisher starts, so the bar covers everything this drain sends.
    store = OutboxStore(config.outbox_path, exclusive=False)
    store.open()
    try:
        first = store.counts()
    finally:
        store.close()
    total = first.pending + (first.published if until == "confirmed" else 0)
    drain_only = dataclasses.replace(config, devices=(), kiosk=KioskSection())
    deadline = time.monotonic() + timeout_s
    async with running_gateway(drain_only) as gateway:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ) as progress:
            bar = progress.add_task(f"draining to {config.mqtt.url}", total=total or 1)
            while True:
                counts = await gateway.outbox.counts()
                left = counts.pending + (counts.published if until == "confirmed" else 0)
                progress.update(bar, completed=max(0, total - left) if total else 1)
                if left == 0:
                    break
                if time.monotonic() > deadline:
                    print(
                        f"gempita: drain timed out with {left} readings left "
                        f"(broker: {gateway.publisher.state.last_error or 'no error'})",
                        file=sys.stderr,
                    )
                    return EXIT_FAIL
                await asyncio.sleep(0.2)
    print(f"drained: {total} readings {until}")
    return EXIT_OK


def register(sub: Subcommands) -> None:
    """Add this module's command(s) to the `gempita` sub-parsers."""
    p = sub.add_parser("outbox", help="outbox maintenance", description="Outbox maintenance.")
    outbox_sub = p.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    d = outbox_sub.add_parser(
        "drain",
        help="publish everything pending now, with a progress bar",
        description="Connect to the broker and publish every pending reading, showing progress; "
        "exit 0 when none is left (or, with --until confirmed, when central confirmed all). "
        "Do not run it while `gempita run` is running on the same outbox.",
    )
    add_common(d)
    d.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    d.add_argument(
        "--until",
        choices=("published", "confirmed"),
        default="published",
        help="stop when all are at the broker (default) or confirmed by central",
    )
    d.set_defaults(handler=cmd_outbox_drain)
