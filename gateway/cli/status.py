"""`gempita status`: outbox, broker and devices of a running (or stopped) gateway."""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path
from typing import Any

from gateway.cli.compose import load_config
from gateway.cli.output import (
    EXIT_OK,
    Subcommands,
    add_common,
    fail,
)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def cmd_status(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    from gateway.outbox_store import OutboxStore
    from gateway.service import STATUS_FILE

    if not config.outbox_path.exists():
        return fail(f"no outbox at {config.outbox_path}: has the gateway ever run?")
    store = OutboxStore(
        config.outbox_path, max_readings=config.outbox.max_readings, exclusive=False
    )
    store.open()
    try:
        counts = store.counts()
    finally:
        store.close()
    now = time.time()
    status_path = Path(config.gateway.state_dir) / STATUS_FILE
    live: dict[str, Any] = {}
    if status_path.exists():
        with contextlib.suppress(OSError, ValueError):
            live = json.loads(status_path.read_text())
    running = live.get("state") == "running" and now - float(live.get("updated_at", 0)) < 30
    publisher = live.get("publisher", {}) if running else {}
    report = {
        "gateway_id": config.gateway.id,
        "running": running,
        "outbox": {
            "path": str(config.outbox_path),
            "pending": counts.pending,
            "published": counts.published,
            "confirmed": counts.confirmed,
            "refused": counts.refused,
            "max_readings": config.outbox.max_readings,
            "oldest_pending_age_s": None
            if counts.oldest_pending_created_at is None
            else round(now - counts.oldest_pending_created_at, 1),
            "last_error": counts.last_error,
        },
        "broker": {
            "url": config.mqtt.url,
            "connected": bool(publisher.get("connected")),
            "last_publish_at": publisher.get("last_publish_at"),
            "last_error": publisher.get("last_error"),
        },
        "alarms": live.get("alarms", []) if running else [],
        "devices": live.get("devices", []) if running else [],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    console = Console()
    ob, br = report["outbox"], report["broker"]
    table = Table(title=f"Gempita gateway {config.gateway.id}", show_header=False)
    table.add_row("gateway", "running" if running else "[yellow]not running[/]")
    table.add_row("outbox", ob["path"])
    table.add_row("  pending (not yet at broker)", str(ob["pending"]))
    table.add_row("  published (awaiting central)", str(ob["published"]))
    table.add_row("  confirmed (stored by central)", str(ob["confirmed"]))
    table.add_row("  refused by broker", str(ob["refused"]))
    table.add_row("  oldest unconfirmed", _age(ob["oldest_pending_age_s"]))
    table.add_row("broker", br["url"])
    table.add_row("  connected", "yes" if br["connected"] else "[red]no[/]")
    last = br["last_publish_at"]
    table.add_row("  last publish", "-" if last is None else _age(now - float(last)) + " ago")
    if br["last_error"] or ob["last_error"]:
        table.add_row("  last error", f"[red]{br['last_error'] or ob['last_error']}[/]")
    for alarm in report["alarms"]:
        table.add_row("[red]ALARM[/]", f"[red]{alarm}[/]")
    for device in report["devices"]:
        table.add_row(f"device {device['name']}", f"{device['state']} — {_device_detail(device)}")
        assurance = device.get("assurance")
        if assurance:
            table.add_row("  assurance", _assurance_text(assurance))
    console.print(table)
    return EXIT_OK


def _device_detail(device: dict[str, Any]) -> str:
    """The device's last error, or what it stored: a meter re-sends its whole memory every
    session, so the records it sent count apart from the readings newly stored."""
    if device.get("last_error"):
        return str(device["last_error"])
    detail = f"{device.get('readings_stored', 0)} readings stored"
    resent = device.get("records_resent", 0)
    return f"{detail}, {resent} re-sent from its memory (already stored)" if resent else detail


def _assurance_text(assurance: dict[str, Any]) -> str:
    """"ok", or the status and its reason codes; out of policy in red (alat perlu diperiksa)."""
    status = str(assurance.get("status"))
    reasons = ", ".join(str(r) for r in assurance.get("reasons", []))
    if status == "ok":
        return "ok"
    text = f"{status}: {reasons}" if reasons else status
    if status == "out_of_policy":
        return f"[red]{text} (alat perlu diperiksa / device needs checking)[/]"
    return f"[yellow]{text}[/]"


def register(sub: Subcommands) -> None:
    """Add this module's command(s) to the `gempita` sub-parsers."""
    p = sub.add_parser(
        "status",
        help="show outbox counts, broker connection and devices",
        description="Show the outbox (pending, published, confirmed, refused, oldest "
        "unconfirmed age), the broker connection and last publish of the running gateway, "
        "alarms and devices. Works while the gateway runs or not.",
    )
    add_common(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_status)
