"""`gempita central import FILE...`: store the readings of bundles carried from gateways.

Each bundle is checked whole first; a bad one is refused with its reason and nothing of it is
stored, and the next file is still imported. For each good one a signed receipt file is
written, to be carried back to the gateway (`gempita bundle confirm`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.cli.central.options import add_shared
from gateway.cli.output import EXIT_FAIL, EXIT_OK, EXIT_USAGE, Subcommands, fail, setup_logging

_BUNDLE_SUFFIX = ".gempita-bundle"
_RECEIPT_SUFFIX = ".gempita-receipt"


def cmd_import(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TimeElapsedColumn,
    )

    from central.bundle_import import CentralKeys, import_bundle
    from central.store import CentralStore
    from core.bundle import BundleError, load_signer, load_trust
    from core.clock import utc_now

    setup_logging(args.log_level or "WARNING")
    try:
        keys = CentralKeys(
            x25519_private=_hex_key(Path(args.x25519_key)),
            trust=load_trust(Path(args.ca_file).read_bytes()),
            signer=load_signer(Path(args.cert).read_bytes(), Path(args.key).read_bytes()),
        )
    except (OSError, ValueError, BundleError) as exc:
        return fail(f"central's keys: {exc}", EXIT_USAGE)
    files = _expand([Path(f) for f in args.files])
    if not files:
        return fail(f"no {_BUNDLE_SUFFIX} files among {' '.join(args.files)}", EXIT_USAGE)
    store = CentralStore(args.db)
    failed = 0
    # Said after the bars are gone: rich would wrap a long path inside an error line.
    lines: list[tuple[str, bool]] = []
    totals = {"readings": 0, "stored": 0, "duplicates": 0, "dead": 0}
    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as progress:
            for path in files:
                bar = progress.add_task(f"importing {path.name}", total=None)

                def advance(n: int, bar: TaskID = bar) -> None:
                    progress.advance(bar, n)

                try:
                    data = path.read_bytes()
                    done = import_bundle(
                        store,
                        data,
                        keys,
                        now=utc_now(),
                        progress=advance,
                    )
                except (BundleError, OSError) as exc:
                    failed += 1
                    progress.remove_task(bar)
                    refused = f"gempita: error: {path}: {exc} (nothing imported from it)"
                    lines.append((refused, True))
                    continue
                progress.update(bar, total=done.readings, completed=done.readings)
                receipts = Path(args.receipts_dir) if args.receipts_dir else path.parent
                receipts.mkdir(parents=True, exist_ok=True)
                receipt = receipts / (path.name.removesuffix(_BUNDLE_SUFFIX) + _RECEIPT_SUFFIX)
                receipt.write_bytes(done.receipt)
                totals["readings"] += done.readings
                totals["stored"] += done.stored
                totals["duplicates"] += done.duplicates
                totals["dead"] += done.dead_letters
                lines.append(
                    (
                        f"{path.name}: gateway {done.gateway_id}, chunk {done.chunk}/"
                        f"{done.chunks}: {done.readings} readings, {done.stored} new, "
                        f"{done.duplicates} already stored, {done.dead_letters} dead letters; "
                        f"receipt {receipt}",
                        False,
                    )
                )
    finally:
        store.close()
    for line, error in lines:
        print(line, file=sys.stderr if error else sys.stdout)
    print(
        f"imported: {totals['stored']} new readings of {totals['readings']} from "
        f"{len(files) - failed} bundle(s) ({totals['duplicates']} already stored, "
        f"{totals['dead']} dead letters; {failed} bundle(s) refused)"
    )
    return EXIT_FAIL if failed else EXIT_OK


def _hex_key(path: Path) -> bytes:
    raw = bytes.fromhex(path.read_text(encoding="ascii").strip())
    if len(raw) != 32:
        raise ValueError(f"{path} must hold central's 32-byte X25519 private key as hex")
    return raw


def _expand(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.name.endswith(_BUNDLE_SUFFIX))
        else:
            out.append(path)
    return out


def register(sub: Subcommands) -> None:
    """Add `gempita central import`."""
    p = sub.add_parser(
        "import",
        help="import bundles carried from gateways (USB stick), write their receipts",
        description="Verify each bundle (signed by a gateway certificate from --ca-file, "
        "encrypted to central's key), store its readings once by id into --db, and write a "
        "receipt signed with central's certificate. A bad bundle is refused whole. A "
        "directory means every *.gempita-bundle in it. Exit 1 if any bundle was refused.",
    )
    add_shared(p)
    p.add_argument("files", nargs="+", metavar="FILE", help="bundle files or directories")
    p.add_argument(
        "--receipts-dir", help="where to write the receipts (default: beside each bundle)"
    )
    p.add_argument(
        "--x25519-key",
        required=True,
        help="central's X25519 private key, hex (the pair of the gateways' "
        "kiosk.settings.central_public_key_file)",
    )
    p.add_argument("--ca-file", required=True, help="the deployment's CA certificate")
    p.add_argument("--cert", required=True, help="central's certificate (`gempita pki central`)")
    p.add_argument("--key", required=True, help="central's private key")
    p.set_defaults(handler=cmd_import)
