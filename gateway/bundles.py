"""Carry the outbox across an air gap: export unconfirmed readings as sealed bundles, apply
central's receipt files (format: core/bundle.py, broker/BUNDLES.md).

Both sides work beside a running gateway, on the same outbox file, without its file lock:

- Export only reads. It opens its own connection, takes one read transaction (a WAL snapshot:
  the gateway keeps committing meanwhile, and every chunk of one export comes from the same
  moment) and never writes, so it cannot disturb a state the publisher is moving.
- Confirm writes only what a receipt over MQTT would: `OutboxStore.mark_confirmed`, through a
  non-exclusive open. It is idempotent (only rows not yet CONFIRMED change) and the states only
  move forward: the publisher's own marks touch PENDING or PUBLISHED rows, so a reading
  confirmed here stays confirmed. The running gateway's in-memory count of unconfirmed rows
  lags until its next restart; it errs towards "more to deliver", never towards dropping.

Nothing here deletes a row: only the gateway's retention purge does, and only confirmed ones.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.bundle import (
    BundleUsageError,
    Signer,
    Trust,
    decode_bundle_receipt,
    encode_bundle,
)
from gateway.errors import OutboxError
from gateway.outbox_store import CONFIRMED, OutboxStore

_LOGGER = logging.getLogger(__name__)

BUNDLE_SUFFIX = ".gempita-bundle"
RECEIPT_SUFFIX = ".gempita-receipt"
DEFAULT_CHUNK = 10_000
_STATES_BATCH = 5000  # ids per lookup, well inside SQLite's parameter limit


@dataclass(frozen=True, slots=True)
class ExportedBundle:
    name: str  # a file name that sorts in export order and says what it is
    data: bytes
    count: int
    first_seq: int
    last_seq: int
    chunk: int
    chunks: int
    export_id: str


@dataclass(frozen=True, slots=True)
class Confirmed:
    """What one receipt did to the outbox."""

    confirmed: int  # moved to CONFIRMED now
    already: int  # were CONFIRMED before (an earlier receipt, or over MQTT)
    unknown: int  # not in this outbox (purged after retention, or never here)
    bundle_sha256: str


def export_bundles(
    outbox_path: Path,
    *,
    gateway_id: str,
    signer: Signer,
    recipient_public_key: bytes,
    chunk_size: int = DEFAULT_CHUNK,
    now: dt.datetime,
    export_id: str | None = None,
) -> Iterator[ExportedBundle]:
    """Seal every unconfirmed reading (PENDING and PUBLISHED), `chunk_size` per bundle.

    A generator, so that a large backlog is read and sealed chunk by chunk; the snapshot is
    held until it is exhausted or closed. Yields nothing when everything is confirmed.
    """
    if chunk_size < 1:
        raise BundleUsageError(f"chunk size must be at least 1, not {chunk_size}")
    if signer.name != gateway_id:
        raise BundleUsageError(
            f"the signing certificate is for {signer.name!r} but gateway.id is {gateway_id!r}: "
            f"set mqtt.cert_file/key_file to this gateway's `gempita pki gateway {gateway_id}` "
            "files"
        )
    _check_outbox(outbox_path)
    export_id = export_id or f"{now:%Y%m%dT%H%M%SZ}-{os.urandom(3).hex()}"
    conn = _read_only(outbox_path)
    try:
        conn.execute("BEGIN")  # one snapshot for the count and every chunk
        count = conn.execute("SELECT COUNT(*) FROM outbox WHERE state < ?", (CONFIRMED,))
        total = int(count.fetchone()[0])
        chunks = -(-total // chunk_size)
        cursor = conn.execute(
            "SELECT seq, payload FROM outbox WHERE state < ? ORDER BY seq", (CONFIRMED,)
        )
        for index in range(1, chunks + 1):
            rows: list[tuple[int, bytes]] = cursor.fetchmany(chunk_size)
            if not rows:
                break  # cannot happen inside one snapshot; never seal an empty bundle
            data = encode_bundle(
                [bytes(payload) for _seq, payload in rows],
                first_seq=rows[0][0],
                last_seq=rows[-1][0],
                created_at=now,
                export_id=export_id,
                signer=signer,
                recipient_public_key=recipient_public_key,
                chunk=index,
                chunks=chunks,
            )
            name = f"{gateway_id}-{export_id}-{index:04d}of{chunks:04d}{BUNDLE_SUFFIX}"
            yield ExportedBundle(
                name=name,
                data=data,
                count=len(rows),
                first_seq=rows[0][0],
                last_seq=rows[-1][0],
                chunk=index,
                chunks=chunks,
                export_id=export_id,
            )
    except sqlite3.Error as exc:
        raise OutboxError(f"outbox {outbox_path}: export failed reading it ({exc})") from exc
    finally:
        conn.close()


def write_bundle(directory: Path, bundle: ExportedBundle) -> Path:
    """Write to the stick so that a pulled stick leaves no file that looks complete."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / bundle.name
    partial = directory / f".{bundle.name}.partial"
    with partial.open("wb") as handle:
        handle.write(bundle.data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(final)
    _fsync_dir(directory)
    return final


def apply_receipt(
    outbox_path: Path, data: bytes, *, gateway_id: str, trust: Trust, now: dt.datetime
) -> Confirmed:
    """Verify central's receipt file, then mark its readings confirmed (idempotent)."""
    receipt = decode_bundle_receipt(data, trust=trust, gateway_id=gateway_id, now=now)
    require_outbox(outbox_path)
    store = OutboxStore(outbox_path, exclusive=False)
    store.open()
    try:
        known: dict[str, str] = {}
        ids = list(dict.fromkeys(receipt.ids))
        for start in range(0, len(ids), _STATES_BATCH):
            known.update(store.states(ids[start : start + _STATES_BATCH]))
        todo = [i for i in ids if known.get(i) not in (None, "confirmed")]
        changed = 0
        for start in range(0, len(todo), _STATES_BATCH):
            changed += store.mark_confirmed(todo[start : start + _STATES_BATCH])[0]
    finally:
        store.close()
    unknown = sum(1 for i in ids if i not in known)
    _LOGGER.info(
        "receipt for bundle %s: %d confirmed, %d already, %d unknown",
        receipt.bundle_sha256[:12],
        changed,
        len(ids) - unknown - changed,
        unknown,
    )
    return Confirmed(
        confirmed=changed,
        already=len(ids) - unknown - changed,
        unknown=unknown,
        bundle_sha256=receipt.bundle_sha256,
    )


def require_outbox(path: Path) -> None:
    """Refuse a path with no outbox: opening one there would create an empty outbox."""
    if not path.exists():
        raise OutboxError(
            f"outbox {path} does not exist: check gateway.state_dir and outbox.path in the config"
        )


def _check_outbox(path: Path) -> None:
    # The store's own open names a damaged or foreign file in its usual words, and brings an
    # old schema to head, before the export reads it with plain SQL.
    require_outbox(path)
    store = OutboxStore(path, exclusive=False)
    store.open()
    store.close()


def _read_only(path: Path) -> sqlite3.Connection:
    # Not `mode=ro`: a read-only connection cannot create the WAL index when no gateway has
    # the file open. query_only refuses any write through this connection instead.
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    conn.execute("PRAGMA query_only=ON")
    return conn


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def bundle_files(paths: Sequence[Path]) -> list[Path]:
    """The files named, with directories expanded to the bundles or receipts inside them."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(
                p for p in path.iterdir() if p.suffix in (BUNDLE_SUFFIX, RECEIPT_SUFFIX)
            )
        else:
            out.append(path)
    return out
