"""`gempita bundle export|confirm`: carry the outbox to central on a USB stick and back.

The keys come from the gateway's config: the signing certificate is the gateway's MQTT client
certificate (mqtt.cert_file/key_file, from `gempita pki gateway ID`), the recipient is the key
the NIK is sealed to (kiosk.settings.central_public_key_file), and receipts are checked against
the broker's CA (mqtt.ca_file). Flags override each, for a kit whose config has no TLS yet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli.compose import load_config
from gateway.cli.output import EXIT_FAIL, EXIT_OK, Subcommands, add_common, fail, setup_logging
from gateway.errors import ConfigError

if TYPE_CHECKING:
    from gateway.config import Config


def _file(flag: str | None, configured: str, what: str, key: str) -> Path:
    chosen = flag or configured
    if not chosen:
        raise ConfigError(f"{what}: set {key} in the config or pass it as a flag")
    path = Path(chosen)
    if not path.is_file():
        raise ConfigError(f"{what}: {path} does not exist (from {'the flag' if flag else key})")
    return path


def _central_public_key(args: argparse.Namespace, config: Config) -> bytes:
    key = "kiosk.settings.central_public_key_file"
    configured = str(config.kiosk.settings.get("central_public_key_file", ""))
    path = _file(args.central_key, configured, "central's public key", key)
    try:
        raw = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{key}: {path} must hold central's X25519 key as hex") from exc
    if len(raw) != 32:
        raise ConfigError(f"{key}: {path} must hold 32 bytes, it holds {len(raw)}")
    return raw


def cmd_export(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from core.bundle import load_signer
    from core.clock import utc_now
    from gateway.bundles import export_bundles, require_outbox, write_bundle
    from gateway.outbox_store import OutboxStore

    config = load_config(args.config)
    setup_logging(args.log_level or "WARNING")
    cert = _file(args.cert, config.mqtt.cert_file, "gateway certificate", "mqtt.cert_file")
    key = _file(args.key, config.mqtt.key_file, "gateway key", "mqtt.key_file")
    signer = load_signer(cert.read_bytes(), key.read_bytes())
    recipient = _central_public_key(args, config)
    require_outbox(config.outbox_path)
    store = OutboxStore(config.outbox_path, exclusive=False)
    store.open()
    try:
        total = store.counts().unconfirmed
    finally:
        store.close()
    if total == 0:
        print("nothing to export: every reading is confirmed by central")
        return EXIT_OK
    written: list[Path] = []
    carried = 0
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        bar = progress.add_task(f"sealing {config.gateway.id}'s readings", total=total)
        for bundle in export_bundles(
            config.outbox_path,
            gateway_id=config.gateway.id,
            signer=signer,
            recipient_public_key=recipient,
            chunk_size=args.chunk,
            now=utc_now(),
        ):
            written.append(write_bundle(Path(args.dir), bundle))
            carried += bundle.count
            progress.update(bar, completed=carried)
    for path in written:
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    print(
        f"exported: {carried} unconfirmed readings in {len(written)} bundle(s) to {args.dir}; "
        "nothing is deleted until central's receipt comes back (`gempita bundle confirm`)"
    )
    return EXIT_OK


def cmd_confirm(args: argparse.Namespace) -> int:
    from core.bundle import BundleError, load_trust
    from core.clock import utc_now
    from gateway.bundles import BUNDLE_SUFFIX, RECEIPT_SUFFIX, apply_receipt, bundle_files

    config = load_config(args.config)
    setup_logging(args.log_level or "WARNING")
    ca = _file(args.ca_file, config.mqtt.ca_file, "CA certificate", "mqtt.ca_file")
    trust = load_trust(ca.read_bytes())
    named = bundle_files([Path(f) for f in args.files])
    files = [p for p in named if not p.name.endswith(BUNDLE_SUFFIX)]
    if not files:
        return fail(f"no {RECEIPT_SUFFIX} files among {' '.join(args.files)}")
    failed = 0
    totals = [0, 0, 0]
    for path in files:
        try:
            done = apply_receipt(
                config.outbox_path,
                path.read_bytes(),
                gateway_id=config.gateway.id,
                trust=trust,
                now=utc_now(),
            )
        except (BundleError, OSError) as exc:
            failed += 1
            print(f"gempita: error: {path}: {exc}", file=sys.stderr)
            continue
        totals = [totals[0] + done.confirmed, totals[1] + done.already, totals[2] + done.unknown]
        print(
            f"{path}: {done.confirmed} confirmed, {done.already} already confirmed, "
            f"{done.unknown} not in this outbox"
        )
    print(
        f"confirmed: {totals[0]} readings from {len(files) - failed} receipt(s) "
        f"({totals[1]} already, {totals[2]} unknown; {failed} receipt(s) refused)"
    )
    return EXIT_FAIL if failed else EXIT_OK


def register(sub: Subcommands) -> None:
    """Add `gempita bundle export` and `gempita bundle confirm`."""
    p = sub.add_parser(
        "bundle",
        help="carry readings to central without a network (USB stick)",
        description="Seal the unconfirmed readings into signed, encrypted bundles for central "
        "(`gempita central import` at the centre), and apply the receipt files it gives back. "
        "Safe while `gempita run` is running: export only reads, confirm only marks readings "
        "central holds. Format: broker/BUNDLES.md.",
    )
    actions = p.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)
    e = actions.add_parser(
        "export",
        help="write the unconfirmed readings as bundles into DIR",
        description="Write every unconfirmed reading (pending or published) into DIR as "
        "*.gempita-bundle files of at most --chunk readings each, signed with the gateway's "
        "certificate and encrypted to central's key. Nothing is deleted or changed.",
    )
    add_common(e)
    e.add_argument("dir", metavar="DIR", help="where to write the bundles (the stick)")
    e.add_argument("--chunk", type=_positive, default=10_000, help="readings per bundle")
    e.add_argument("--cert", help="gateway certificate (default: mqtt.cert_file)")
    e.add_argument("--key", help="gateway private key (default: mqtt.key_file)")
    e.add_argument(
        "--central-key",
        help="central's X25519 public key, hex (default: kiosk.settings.central_public_key_file)",
    )
    e.set_defaults(handler=cmd_export)
    c = actions.add_parser(
        "confirm",
        help="apply central's receipt files",
        description="Verify each receipt file (signed by central, for this gateway) and mark "
        "the readings it names confirmed. A directory means every *.gempita-receipt in it. "
        "Exit 1 if any receipt was refused (the others are still applied).",
    )
    add_common(c)
    c.add_argument("files", nargs="+", metavar="FILE", help="receipt files or directories")
    c.add_argument("--ca-file", help="the deployment's CA (default: mqtt.ca_file)")
    c.set_defaults(handler=cmd_confirm)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
