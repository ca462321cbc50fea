"""`gempita central export-fhir`: stored readings as bulk FHIR NDJSON, with a progress bar."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli.central.options import add_shared
from gateway.cli.output import EXIT_FAIL, EXIT_OK, EXIT_USAGE, Subcommands, fail, setup_logging

if TYPE_CHECKING:
    from central.fhir.export import ExportCounts
    from central.fhir.settings import FhirSettings


def _since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"--since {text!r} is not ISO 8601 (e.g. 2026-11-01T00:00:00Z)"
        ) from exc
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"--since {text!r} has no zone: add Z for UTC or an offset such as +08:00"
        )
    return moment


def _settings(args: argparse.Namespace) -> FhirSettings:
    """[fhir] of central's configuration, with the flags written laid over it."""
    import dataclasses

    from central.fhir.settings import FhirSettings

    config = getattr(args, "central_config", None)
    base: FhirSettings | None = config.fhir if config is not None else None
    organization = args.organization_id or (base.organization_id if base else None)
    if not organization:
        raise ValueError(
            "no organization: set fhir.organization_id in central's configuration or give "
            "--organization-id (the SATUSEHAT Organization IHS id)"
        )
    settings = base or FhirSettings(organization_id=organization)
    changes: dict[str, object] = {"organization_id": organization}
    for name in ("location_id", "encounter_id", "bp_profile"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.nik_key_file:
        path = Path(args.nik_key_file)
        try:
            key = bytes.fromhex(path.read_text().strip())
        except OSError as exc:
            raise ValueError(f"cannot read --nik-key-file {path}: {exc.strerror}") from exc
        except ValueError as exc:
            raise ValueError(
                f"--nik-key-file {path} must hold central's private key as hex"
            ) from exc
        changes.update(subject_identifier="nik", nik_private_key=key)
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


def cmd_export_fhir(args: argparse.Namespace) -> int:
    setup_logging(args.log_level or "WARNING")
    try:
        settings = _settings(args)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        counts = _export(args, settings)
    except OSError as exc:
        return fail(f"cannot write {args.out}: {exc.strerror}")
    print(
        f"exported {counts.readings} readings as {counts.resources} resources "
        f"({counts.observations} Observations, {counts.devices} Devices) to {args.out}; "
        f"skipped {counts.control_solution} control-solution, {counts.unbound} unclaimed "
        f"(no subject) and {counts.unmappable} unmappable readings (each logged)"
    )
    return EXIT_OK if counts.unmappable == 0 else EXIT_FAIL


def _export(args: argparse.Namespace, settings: FhirSettings) -> ExportCounts:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from central.fhir.export import export_ndjson
    from central.store import CentralStore

    store = CentralStore(args.db)
    try:
        with Path(args.out).open("wb") as out:
            if not sys.stderr.isatty():
                return export_ndjson(store.engine, out, settings, args.since, by=args.by)
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=True,
            ) as progress:
                bar = progress.add_task("exporting readings", total=None)

                def show(done: int, total: int) -> None:
                    progress.update(bar, completed=done, total=total)

                return export_ndjson(
                    store.engine, out, settings, args.since, by=args.by, progress=show
                )
    finally:
        store.close()


def register(sub: Subcommands) -> None:
    """Add `export-fhir` to the `gempita central` commands."""
    p = sub.add_parser(
        "export-fhir",
        help="write stored readings as FHIR R4 bulk NDJSON",
        description="Write every stored reading received (or measured, with --by measured) "
        "since --since as FHIR R4 resources, one per line: the meters and gateways as Device "
        "(each once), the results as Observation. Control-solution records are never "
        "exported; a reading that cannot be mapped is logged and skipped, and the exit code "
        "is then 1. The subject is the pseudonym, unless --nik-key-file is given: then "
        "central unseals each NIK and names the patient by it.",
    )
    add_shared(p)
    p.add_argument("--since", type=_since, required=True, help="ISO 8601 time with a zone")
    p.add_argument("--out", required=True, help="the NDJSON file to write (replaced)")
    p.add_argument(
        "--by",
        choices=("received_at", "measured_at"),
        default="received_at",
        help="which time --since compares with (default received_at: when central stored it)",
    )
    p.add_argument(
        "--organization-id",
        help="SATUSEHAT Organization IHS id of the sender (default fhir.organization_id)",
    )
    p.add_argument("--location-id", help="SATUSEHAT Location id for every Observation")
    p.add_argument("--encounter-id", help="SATUSEHAT Encounter id for every Observation")
    p.add_argument(
        "--bp-profile",
        choices=("split", "panel"),
        help="split: systolic and diastolic Observations (SATUSEHAT); panel: one 85354-9 "
        "(default fhir.bp_profile, else split)",
    )
    p.add_argument(
        "--nik-key-file",
        help="central's X25519 private key (hex): export the NIK identifier instead of the "
        "pseudonym",
    )
    p.set_defaults(handler=cmd_export_fhir)
