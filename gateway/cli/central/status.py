"""`gempita central status`: readings at central and their SATUSEHAT delivery state."""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

from gateway.cli.central.options import add_shared
from gateway.cli.output import EXIT_OK, Subcommands, fail


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_shared(p)
    p.add_argument(
        "--id",
        metavar="READING_ID",
        help="show one reading's receipt at every hop instead of the counts",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")


def register(sub: Subcommands) -> None:
    p = sub.add_parser(
        "status",
        help="readings at central and their SATUSEHAT delivery state",
        description="Counts of the readings central stored and of their delivery to the "
        "FHIR server (queued, accepted, failed, skipped), or with --id one reading's receipt "
        "at every hop central sees: stored at central (so the gateway stored it and the broker "
        "acknowledged it) and accepted by SATUSEHAT with the server's ids, or failed and why.",
    )
    add_arguments(p)
    p.set_defaults(handler=cmd_central_status)


def cmd_central_status(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from central.hops import hop_counts, reading_hops

    try:
        url = sa.engine.make_url(args.db)
    except sa.exc.ArgumentError:
        return fail(f"--db {args.db!r} is not a database URL (e.g. sqlite:///central.db)", 2)
    shown = url.render_as_string(hide_password=True)
    # No migration here: a status command must not change the schema of a running central.
    engine = sa.create_engine(url)
    try:
        if args.id:
            hops = reading_hops(engine, args.id)
            if hops is None:
                return fail(f"reading {args.id} is not stored at central ({shown})")
            report: dict[str, Any] = {"database": shown, "reading": hops.as_dict()}
        else:
            report = {"database": shown, "counts": hop_counts(engine).as_dict()}
    except sa.exc.SQLAlchemyError as exc:
        return fail(
            f"cannot read central's database {shown} ({type(exc).__name__}): is the URL "
            "right, and has central run against it (it creates and migrates the schema)?"
        )
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    _print_table(report)
    return EXIT_OK


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    stamp = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{stamp} ({_ago(time.time() - epoch)})"


def _ago(seconds: float) -> str:
    if seconds < 0:
        return f"in {_ago(-seconds)[:-4]}"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Gempita central — {escape(report['database'])}", show_header=False)
    if "reading" in report:
        r = report["reading"]
        s = r["satusehat"]
        table.add_row("reading", escape(r["id"]))
        table.add_row("  gateway / kind", escape(f"{r['gateway_id']} / {r['kind']}"))
        table.add_row("  measured at", escape(r["measured_at"]))
        table.add_row("stored at central", _when(r["stored_at_central"]))
        style = {"accepted": "green", "failed": "red", "queued": "yellow"}.get(s["state"], "")
        table.add_row("SATUSEHAT", f"[{style}]{s['state']}[/]" if style else s["state"])
        if s["server_id"]:
            table.add_row("  server id", escape(s["server_id"]))
        if s["reason"]:
            # The server's own words (or our error's): shown as text, never as markup.
            reason = escape(s["reason"])
            table.add_row("  why", f"[red]{reason}[/]" if s["state"] == "failed" else reason)
        table.add_row("  attempts", str(s["attempts"]))
        if s["state"] == "queued" and s["next_attempt_at"] is not None:
            table.add_row("  next attempt", _when(s["next_attempt_at"]))
    else:
        c = report["counts"]
        table.add_row("stored at central", str(c["stored_at_central"]))
        table.add_row("  dead letters (refused)", str(c["dead_letters"]))
        labels = {
            "queued": "SATUSEHAT queued (not yet accepted)",
            "accepted": "SATUSEHAT accepted",
            "failed": "[red]SATUSEHAT failed (see --id)[/]",
            "skipped": "SATUSEHAT skipped (not exported)",
        }
        for state, n in c["satusehat"].items():
            table.add_row(labels.get(state, state), str(n))
    Console().print(table)
