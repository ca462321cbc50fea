"""Import a sealed bundle at central: verify, open, store every reading once, sign a receipt.

The bundle is checked whole before anything is stored (core.bundle.decode_bundle): a bundle
that is truncated, altered, for another central, or not signed by a gateway of our CA raises
a BundleError and the database is not touched. Inside a good bundle each reading meets the
checks an MQTT message meets in central.service (the payload contract, the gateway id of its
sender, no NUL in the id): a reading that fails goes to the dead letters, as over MQTT, and is
left out of the receipt, so the gateway keeps it.

Storing is CentralStore.store, exactly once by id: a bundle imported twice, or a reading that
also came over MQTT, is stored once and confirmed again (the gateway's confirm is idempotent).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from central.store import CentralStore, Incoming
from core.bundle import (
    Bundle,
    BundleReceipt,
    Signer,
    Trust,
    decode_bundle,
    encode_bundle_receipt,
)
from core.errors import PayloadError
from core.payload import decode_reading
from core.topics import topic_readings

_LOGGER = logging.getLogger(__name__)

STORE_BATCH = 2000  # readings per transaction; a crash midway loses nothing (import again)


@dataclass(frozen=True, slots=True)
class CentralKeys:
    x25519_private: bytes  # the key whose public half gateways seal NIKs and bundles to
    trust: Trust  # the CA every gateway certificate must come from
    signer: Signer  # central's certificate and key (CN "central"): signs the receipts


@dataclass(frozen=True, slots=True)
class Imported:
    gateway_id: str
    bundle_sha256: str
    chunk: int
    chunks: int
    readings: int  # in the bundle
    stored: int  # new to central
    duplicates: int  # central held them already (an earlier import, or MQTT)
    dead_letters: int  # refused one by one; kept by the gateway
    receipt: bytes  # the signed receipt file to carry back


def import_bundle(
    store: CentralStore,
    data: bytes,
    keys: CentralKeys,
    *,
    now: dt.datetime,
    progress: Callable[[int], None] | None = None,
) -> Imported:
    """Import one bundle file's bytes; raises BundleError (nothing stored) for a bad bundle."""
    bundle = decode_bundle(
        data, recipient_private_key=keys.x25519_private, trust=keys.trust, now=now
    )
    gateway_id = bundle.manifest.gateway_id
    good, bad = _check(bundle)
    stored = 0
    for start in range(0, len(good), STORE_BATCH):
        batch = good[start : start + STORE_BATCH]
        stored += len(store.store(batch))
        if progress is not None:
            progress(len(batch))
    if bad:
        topic = topic_readings(gateway_id)
        store.dead_letter_many([(topic, payload, reason) for payload, reason in bad], once=True)
        _LOGGER.warning(
            "bundle %s from %s: %d readings refused (dead letters)",
            bundle.digest[:12],
            gateway_id,
            len(bad),
        )
    if progress is not None and bad:
        progress(len(bad))
    ids = tuple(dict.fromkeys(r.id for r in good))
    receipt = encode_bundle_receipt(
        BundleReceipt(gateway_id=gateway_id, bundle_sha256=bundle.digest, created_at=now, ids=ids),
        keys.signer,
    )
    _LOGGER.info(
        "bundle %s from %s: %d readings, %d new", bundle.digest[:12], gateway_id, len(good), stored
    )
    return Imported(
        gateway_id=gateway_id,
        bundle_sha256=bundle.digest,
        chunk=bundle.manifest.chunk,
        chunks=bundle.manifest.chunks,
        readings=len(bundle.readings),
        stored=stored,
        duplicates=len(ids) - stored,
        dead_letters=len(bad),
        receipt=receipt,
    )


def _check(bundle: Bundle) -> tuple[list[Incoming], list[tuple[bytes, str]]]:
    good: list[Incoming] = []
    bad: list[tuple[bytes, str]] = []
    reason_prefix = f"bundle {bundle.digest[:12]}"
    for payload in bundle.readings:
        try:
            good.append(incoming(payload, bundle.manifest.gateway_id))
        except PayloadError as exc:
            bad.append((payload, f"{reason_prefix}: {exc} ({len(payload)} bytes)"))
        except Exception as exc:  # noqa: BLE001 (as over MQTT: a bug of ours on one is set aside)
            bad.append((payload, f"{reason_prefix}: central failed on it: {type(exc).__name__}"))
    return good, bad


def incoming(payload: bytes, gateway_id: str) -> Incoming:
    """The MQTT path's checks (central.service), with the bundle's signer as the sender.

    Mirrored rather than shared because the service's version takes its private message type;
    tests/bundle/ holds both to the same answers.
    """
    reading, data = decode_reading(payload)
    if reading.gateway_id != gateway_id:
        raise PayloadError("gateway_id does not match the bundle's gateway")
    if "\x00" in reading.id:
        raise PayloadError("id must not contain NUL")
    return Incoming(
        id=reading.id,
        gateway_id=reading.gateway_id,
        kind=reading.kind.value,
        measured_at=data["measured_at"],
        payload=payload.decode(),
    )
