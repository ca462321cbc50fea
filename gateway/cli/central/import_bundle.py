"""`gempita central import FILE...`: store the readings of bundles carried from gateways.

Each bundle is checked whole first; a bad one is refused with its reason and nothing of it is
stored, and the next file is still imported. For each good one a signed receipt file is
written, to be carried back to the gateway (`gempita bundle confirm`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli.central.options import add_shared
from gateway.cli.output import EXIT_FAIL, EXIT_OK, EXIT_USAGE, Subcommands, fail, setup_logging

if TYPE_CHECKING:  # central imports SQLAlchemy and cryptography: not for `--help`
    from central.bundle_import import CentralKeys
    from central.config import BundlesSection

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

    from central.bundle_import import import_bundle
    from central.store import CentralStore
    from core.bundle import BundleError
    from core.clock import utc_now

    setup_logging(args.log_level or "WARNING")
    try:
        keys = central_keys(args.central_config.bundles)
    except KeyProblem as exc:
        return fail(str(exc), EXIT_USAGE)
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


class KeyProblem(Exception):
    """One of central's bundle keys is missing or unusable; the message names its key."""


# [bundles] key -> the import flag that overrides it, for messages.
_KEY_FLAGS = {
    "x25519_key_file": "--x25519-key",
    "ca_file": "--ca-file",
    "cert_file": "--cert",
    "key_file": "--key",
}


def central_keys(section: BundlesSection) -> CentralKeys:
    from central.bundle_import import CentralKeys
    from core.bundle import BundleError, load_signer, load_trust

    for key, flag in _KEY_FLAGS.items():
        if not getattr(section, key):
            raise KeyProblem(
                f"bundles.{key}: required to import bundles; set it in the [bundles] table "
                f"of central's configuration or pass {flag}"
            )

    def read(key: str) -> bytes:
        path = getattr(section, key)
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise KeyProblem(f"bundles.{key}: cannot read {path}: {exc.strerror or exc}") from exc

    try:
        x25519 = _hex_key(read("x25519_key_file"))
    except ValueError as exc:
        raise KeyProblem(
            f"bundles.x25519_key_file: {section.x25519_key_file} must hold central's "
            f"32-byte X25519 private key as hex ({exc})"
        ) from exc
    try:
        trust = load_trust(read("ca_file"))
    except BundleError as exc:
        raise KeyProblem(f"bundles.ca_file: {section.ca_file}: {exc}") from exc
    try:
        signer = load_signer(read("cert_file"), read("key_file"))
    except BundleError as exc:
        raise KeyProblem(
            f"bundles.cert_file / bundles.key_file: {section.cert_file}, {section.key_file}: {exc}"
        ) from exc
    return CentralKeys(x25519_private=x25519, trust=trust, signer=signer)


def _hex_key(raw: bytes) -> bytes:
    """Never echoes the content: it is a private key."""
    try:
        key = bytes.fromhex(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise ValueError("not hex text") from None
    if len(key) != 32:
        raise ValueError(f"it holds {len(key)} bytes")
    return key


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
        description="Verify each bundle (signed by a gateway certificate from the deployment's "
        "CA, encrypted to central's X25519 key), store its readings once by id into --db, and "
        "write a receipt signed with central's certificate. The four key files come from the "
        "[bundles] table of central's configuration (--config), each flag below overriding "
        "its key; one given nowhere stops the import with exit 2 naming it. A bad bundle is "
        "refused whole. A directory means every *.gempita-bundle in it. Exit 1 if any bundle "
        "was refused.",
    )
    add_shared(p)
    p.add_argument("files", nargs="+", metavar="FILE", help="bundle files or directories")
    p.add_argument(
        "--receipts-dir", help="where to write the receipts (default: beside each bundle)"
    )
    # Each overrides its [bundles] key (options.FLAG_KEYS); without either: exit 2.
    p.add_argument(
        "--x25519-key",
        dest="bundles_x25519_key_file",
        metavar="FILE",
        help="central's X25519 private key, hex (the pair of the gateways' "
        "kiosk.settings.central_public_key_file); overrides bundles.x25519_key_file",
    )
    p.add_argument(
        "--ca-file",
        dest="bundles_ca_file",
        metavar="FILE",
        help="the deployment's CA certificate; overrides bundles.ca_file",
    )
    p.add_argument(
        "--cert",
        dest="bundles_cert_file",
        metavar="FILE",
        help="central's certificate (`gempita pki central`); overrides bundles.cert_file",
    )
    p.add_argument(
        "--key",
        dest="bundles_key_file",
        metavar="FILE",
        help="central's private key; overrides bundles.key_file",
    )
    p.set_defaults(handler=cmd_import)
