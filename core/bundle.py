"""Sealed bundles and their receipts: readings carried across an air gap (broker/BUNDLES.md).

Sans-I/O like `core.payload`: bytes in, frozen objects out, and the reverse. Nothing here opens
a file, a database or a socket, so the USB commands, the kader page (the phone carries the same
bytes) and the tests all drive one codec.

A bundle is signed by the gateway (ECDSA P-256, the key of its `gempita pki` certificate, which
travels inside) and then encrypted to central's X25519 key (ephemeral X25519, HKDF-SHA256,
AES-256-GCM). Sign-then-encrypt: anyone may encrypt to central's public key, so only the
signature says which gateway sent it; and the signature, the certificate and the manifest sit
inside the ciphertext, so a lost stick shows nothing but a random-looking blob and the
recipient's key fingerprint.

Every check runs before anything is returned: a bundle is either accepted whole or refused with
one `BundleError` whose message says what to do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID

from core.errors import CoreError
from core.topics import parse_receipt

BUNDLE_MAGIC = b"GEMPITA-BUNDLE/1\n"
RECEIPT_MAGIC = b"GEMPITA-RECEIPT/1\n"
SCHEMA_MANIFEST = "gempita.bundle/1"
SCHEMA_BUNDLE_RECEIPT = "gempita.bundle-receipt/1"
CENTRAL_NAME = "central"  # the CN `gempita pki central` gives central's certificate

# Domain separation: a signature over a bundle can never pass as one over a receipt, and the
# bundle key is never the key of a sealed NIK even if both used one ephemeral key.
_HKDF_INFO = b"gempita/bundle-seal/v1"
_SIGN_BUNDLE = b"gempita.bundle-signature/1\x00"
_SIGN_RECEIPT = b"gempita.bundle-receipt-signature/1\x00"

_FINGERPRINT_LEN = 8
_X25519_LEN = 32
_NONCE_LEN = 12
_TAG_LEN = 16
_HEADER = struct.Struct(f">{_FINGERPRINT_LEN}s{_X25519_LEN}s{_NONCE_LEN}sQ")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
# Readings are compressed with zlib at this level: on 10,000 readings it took about as long
# as level 9 for a file a few % larger, where lzma's smaller files cost far more CPU than a
# Pi has for the export target (measurements: bench/RESULTS.md, "Bundles").
_ZLIB_LEVEL = 6
# A manifest may not promise more plaintext than this: it bounds what a hostile (but signed)
# bundle can make central inflate into memory.
MAX_PLAINTEXT = 512 * 1024 * 1024
_MAX_MANIFEST = 64 * 1024
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


# --- errors -------------------------------------------------------------------------------------


class BundleError(CoreError):
    """Root of bundle and receipt errors. A bundle that raises one is refused whole."""


class BundleUsageError(BundleError):
    """We called the codec wrongly (no readings, a key of the wrong size): a bug of ours."""


class BundleFormatError(BundleError):
    """The file is not a Gempita bundle or receipt, or of a version this side does not read."""


class BundleTruncatedError(BundleError):
    """The file ends early: it was cut off while copying."""


class BundleRecipientError(BundleError):
    """The bundle was encrypted for another central key."""


class BundleGarbageError(BundleError):
    """The bundle failed authentication or decrypted to something that is not a bundle."""


class BundleSignatureError(BundleError):
    """The signature does not match the content or the certificate inside."""


class BundleUntrustedError(BundleError):
    """The signer's certificate is not from our CA, is out of date, or names someone else."""


class ReceiptMismatchError(BundleError):
    """A receipt for another gateway (or another bundle) than the one applying it."""


# --- keys ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signer:
    """A signing identity: a `gempita pki` EC key and the certificate issued for it."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def name(self) -> str:
        return common_name(self.cert)


@dataclass(frozen=True, slots=True)
class Trust:
    """The deployment's CA certificate: every signer must be issued directly by it."""

    ca: x509.Certificate


def load_signer(cert_pem: bytes, key_pem: bytes) -> Signer:
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, None)
    except ValueError as exc:
        raise BundleUsageError(
            f"signing certificate or key is not PEM ({exc}); use the files `gempita pki` wrote"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise BundleUsageError("the signing key must be the P-256 EC key `gempita pki` wrote")
    if cert.public_key() != key.public_key():
        raise BundleUsageError("the signing key does not belong to the certificate given with it")
    return Signer(key, cert)


def load_trust(ca_pem: bytes) -> Trust:
    try:
        return Trust(x509.load_pem_x509_certificate(ca_pem))
    except ValueError as exc:
        raise BundleUsageError(f"CA file is not a PEM certificate ({exc})") from exc


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def recipient_fingerprint(public_key: bytes) -> bytes:
    """How a bundle's header names its recipient: enough to tell keys apart, not the key."""
    return hashlib.sha256(b"gempita.bundle-recipient/1\x00" + public_key).digest()[
        :_FINGERPRINT_LEN
    ]


# --- bundles ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a bundle holds. No reading content: nothing personal, only counts and positions."""

    gateway_id: str
    count: int
    first_seq: int  # outbox seqs of the first and last reading carried
    last_seq: int
    created_at: dt.datetime  # UTC
    sha256: str  # hex digest of the uncompressed reading frames
    size: int  # their length in bytes
    chunk: int  # this is chunk `chunk` of `chunks` of one export
    chunks: int
    export_id: str  # the same for every chunk of one export


@dataclass(frozen=True, slots=True)
class Bundle:
    manifest: Manifest
    readings: tuple[bytes, ...]  # the payloads exactly as the outbox stored them
    signer: str  # the CN of the certificate that signed it (= manifest.gateway_id)
    digest: str  # sha256 hex of the whole file: the id a receipt refers to


def bundle_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_bundle(
    readings: Sequence[bytes],
    *,
    first_seq: int,
    last_seq: int,
    created_at: dt.datetime,
    export_id: str,
    signer: Signer,
    recipient_public_key: bytes,
    chunk: int = 1,
    chunks: int = 1,
    ephemeral: X25519PrivateKey | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Seal `readings` for central. `ephemeral` and `nonce` are for golden tests only."""
    if not readings:
        raise BundleUsageError("a bundle needs at least one reading")
    if not 1 <= chunk <= chunks:
        raise BundleUsageError(f"chunk {chunk} of {chunks} is not a valid position")
    if len(recipient_public_key) != _X25519_LEN:
        raise BundleUsageError("central's public key must be 32 raw bytes (X25519)")
    if created_at.utcoffset() is None:
        raise BundleUsageError("created_at must carry its zone (UTC)")
    frames = b"".join(_U32.pack(len(p)) + p for p in readings)
    manifest = Manifest(
        gateway_id=signer.name,
        count=len(readings),
        first_seq=first_seq,
        last_seq=last_seq,
        created_at=created_at.astimezone(dt.UTC),
        sha256=hashlib.sha256(frames).hexdigest(),
        size=len(frames),
        chunk=chunk,
        chunks=chunks,
        export_id=export_id,
    )
    manifest_bytes = _manifest_bytes(manifest)
    body = _U32.pack(len(manifest_bytes)) + manifest_bytes + zlib.compress(frames, _ZLIB_LEVEL)
    plaintext = _signed(_SIGN_BUNDLE, body, signer)

    ephemeral = ephemeral or X25519PrivateKey.generate()
    ephemeral_public = _raw(ephemeral.public_key())
    key = _derive(
        ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public_key)),
        ephemeral_public,
        recipient_public_key,
    )
    nonce = nonce if nonce is not None else _random_nonce()
    header = BUNDLE_MAGIC + _HEADER.pack(
        recipient_fingerprint(recipient_public_key),
        ephemeral_public,
        nonce,
        len(plaintext) + _TAG_LEN,
    )
    return header + AESGCM(key).encrypt(nonce, plaintext, header)


def decode_bundle(
    data: bytes, *, recipient_private_key: bytes, trust: Trust, now: dt.datetime
) -> Bundle:
    """Open, verify and unpack a bundle; any fault raises a BundleError and returns nothing."""
    private = _load_private(recipient_private_key)
    recipient_public = _raw(private.public_key())
    fixed = len(BUNDLE_MAGIC) + _HEADER.size
    if not (data.startswith(BUNDLE_MAGIC) or BUNDLE_MAGIC.startswith(data)):
        raise BundleFormatError(
            "not a Gempita bundle (wrong header): give `gempita central import` the "
            "*.gempita-bundle files `gempita bundle export` wrote"
        )
    if len(data) < fixed:
        raise BundleTruncatedError(
            f"bundle is truncated ({len(data)} bytes, shorter than its header): copy it "
            "from the stick again, or export again on the gateway"
        )
    fingerprint, ephemeral_public, nonce, length = _HEADER.unpack_from(data, len(BUNDLE_MAGIC))
    if fingerprint != recipient_fingerprint(recipient_public):
        raise BundleRecipientError(
            "bundle was encrypted for another central key: check the gateway's "
            "kiosk.settings.central_public_key_file matches this central's --x25519-key"
        )
    if len(data) < fixed + length:
        raise BundleTruncatedError(
            f"bundle is truncated ({len(data) - fixed} of {length} encrypted bytes): copy it "
            "from the stick again (safely eject before pulling it), or export again"
        )
    if len(data) > fixed + length:
        raise BundleFormatError(
            f"bundle has {len(data) - fixed - length} unexpected bytes after its end: it was "
            "damaged or appended to; export it again on the gateway"
        )
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        key = _derive(shared, ephemeral_public, recipient_public)
        plaintext = AESGCM(key).decrypt(nonce, data[fixed:], data[:fixed])
    except (InvalidTag, ValueError) as exc:
        raise BundleGarbageError(
            "bundle does not decrypt: it was altered or damaged after export; nothing was "
            "imported. Export it again on the gateway"
        ) from exc
    cert, body = _verify_signed(_SIGN_BUNDLE, plaintext, trust, now, what="bundle")
    manifest, frames = _open_body(body)
    signer = common_name(cert)
    if signer != manifest.gateway_id:
        raise BundleUntrustedError(
            f"bundle says it is from gateway {manifest.gateway_id!r} but was signed by "
            f"{signer!r}: refused; check which gateway exported it"
        )
    readings = _split(frames, manifest)
    return Bundle(manifest=manifest, readings=readings, signer=signer, digest=bundle_digest(data))


def _open_body(body: bytes) -> tuple[Manifest, bytes]:
    garbage = (
        "bundle content is malformed ({}) although correctly signed: the exporting "
        "gateway has a bug; keep the file for the developers and export again"
    )
    if len(body) < _U32.size:
        raise BundleGarbageError(garbage.format("no manifest"))
    (mlen,) = _U32.unpack_from(body)
    if mlen > _MAX_MANIFEST or len(body) < _U32.size + mlen:
        raise BundleGarbageError(garbage.format("manifest length"))
    manifest = _parse_manifest(body[_U32.size : _U32.size + mlen], garbage)
    inflater = zlib.decompressobj()
    try:
        frames = inflater.decompress(body[_U32.size + mlen :], manifest.size + 1)
    except zlib.error as exc:
        raise BundleGarbageError(garbage.format("readings do not decompress")) from exc
    if len(frames) != manifest.size or not inflater.eof or inflater.unused_data:
        raise BundleGarbageError(garbage.format("readings size differs from the manifest"))
    if hashlib.sha256(frames).hexdigest() != manifest.sha256:
        raise BundleGarbageError(garbage.format("readings digest differs from the manifest"))
    return manifest, frames


def _split(frames: bytes, manifest: Manifest) -> tuple[bytes, ...]:
    out: list[bytes] = []
    at = 0
    while at < len(frames):
        if len(frames) - at < _U32.size:
            break
        (n,) = _U32.unpack_from(frames, at)
        at += _U32.size
        if n > len(frames) - at:
            break
        out.append(frames[at : at + n])
        at += n
    if at != len(frames) or len(out) != manifest.count:
        raise BundleGarbageError(
            "bundle readings do not match its manifest's count although correctly signed: "
            "the exporting gateway has a bug; keep the file and export again"
        )
    return tuple(out)


def _manifest_bytes(m: Manifest) -> bytes:
    return orjson.dumps(
        {
            "schema": SCHEMA_MANIFEST,
            "gateway_id": m.gateway_id,
            "count": m.count,
            "first_seq": m.first_seq,
            "last_seq": m.last_seq,
            "created_at": m.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "sha256": m.sha256,
            "size": m.size,
            "chunk": m.chunk,
            "chunks": m.chunks,
            "export_id": m.export_id,
        },
        option=orjson.OPT_SORT_KEYS,
    )


def _parse_manifest(raw: bytes, garbage: str) -> Manifest:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BundleGarbageError(garbage.format("manifest is not JSON")) from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_MANIFEST:
        raise BundleFormatError(
            "bundle manifest is of an unknown version: update central to the gateway's release"
        )
    ints = ("count", "first_seq", "last_seq", "size", "chunk", "chunks")
    texts = ("gateway_id", "created_at", "sha256", "export_id")
    if not all(type(data.get(k)) is int and data[k] >= 0 for k in ints) or not all(
        isinstance(data.get(k), str) for k in texts
    ):
        raise BundleGarbageError(garbage.format("manifest fields"))
    try:
        created = dt.datetime.fromisoformat(data["created_at"])
    except ValueError as exc:
        raise BundleGarbageError(garbage.format("manifest created_at")) from exc
    ok = (
        _NAME.fullmatch(data["gateway_id"]) is not None
        and _SHA256_HEX.fullmatch(data["sha256"]) is not None
        and _NAME.fullmatch(data["export_id"]) is not None
        and created.utcoffset() is not None
        and 1 <= data["chunk"] <= data["chunks"]
        and data["count"] >= 1
        and data["size"] <= MAX_PLAINTEXT
        and data["first_seq"] <= data["last_seq"]
    )
    if not ok:
        raise BundleGarbageError(garbage.format("manifest values"))
    return Manifest(
        gateway_id=data["gateway_id"],
        count=data["count"],
        first_seq=data["first_seq"],
        last_seq=data["last_seq"],
        created_at=created.astimezone(dt.UTC),
        sha256=data["sha256"],
        size=data["size"],
        chunk=data["chunk"],
        chunks=data["chunks"],
        export_id=data["export_id"],
    )


# --- receipts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BundleReceipt:
    """Central's signed word that it holds these readings of one gateway's bundle."""

    gateway_id: str
    bundle_sha256: str
    created_at: dt.datetime
    ids: tuple[str, ...]


def encode_bundle_receipt(receipt: BundleReceipt, signer: Signer) -> bytes:
    body = orjson.dumps(
        {
            "schema": SCHEMA_BUNDLE_RECEIPT,
            "gateway_id": receipt.gateway_id,
            "bundle_sha256": receipt.bundle_sha256,
            "created_at": receipt.created_at.astimezone(dt.UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            ),
            # The same list a gempita.receipt/1 message carries, so one parser reads both.
            "ids": list(receipt.ids),
        }
    )
    return RECEIPT_MAGIC + _signed(_SIGN_RECEIPT, body, signer)


def decode_bundle_receipt(
    data: bytes, *, trust: Trust, gateway_id: str, now: dt.datetime
) -> BundleReceipt:
    """Verify a receipt file for `gateway_id`; a receipt for anyone else is refused."""
    if not data.startswith(RECEIPT_MAGIC):
        raise BundleFormatError(
            "not a Gempita receipt file (wrong header): give `gempita bundle confirm` the "
            "*.gempita-receipt files `gempita central import` wrote"
        )
    cert, body = _verify_signed(
        _SIGN_RECEIPT, data[len(RECEIPT_MAGIC) :], trust, now, what="receipt"
    )
    if common_name(cert) != CENTRAL_NAME:
        raise BundleUntrustedError(
            f"receipt is signed by {common_name(cert)!r}, not by central: only central's "
            "certificate (`gempita pki central`) may confirm readings"
        )
    try:
        data_obj: Any = orjson.loads(body)
        ids = parse_receipt(body)
    except (orjson.JSONDecodeError, CoreError) as exc:
        raise BundleGarbageError(
            "receipt content is malformed although correctly signed: keep the file and "
            "import the bundle at central again for a new receipt"
        ) from exc
    ok = (
        isinstance(data_obj, dict)
        and data_obj.get("schema") == SCHEMA_BUNDLE_RECEIPT
        and isinstance(data_obj.get("gateway_id"), str)
        and isinstance(data_obj.get("bundle_sha256"), str)
        and isinstance(data_obj.get("created_at"), str)
    )
    if not ok:
        raise BundleFormatError("receipt is of an unknown version: update the gateway")
    if data_obj["gateway_id"] != gateway_id:
        raise ReceiptMismatchError(
            f"receipt is for gateway {data_obj['gateway_id']!r}, this is {gateway_id!r}: "
            "carry it to the gateway it names; nothing was confirmed"
        )
    try:
        created = dt.datetime.fromisoformat(data_obj["created_at"]).astimezone(dt.UTC)
    except ValueError as exc:
        raise BundleGarbageError("receipt created_at is not a time") from exc
    return BundleReceipt(
        gateway_id=gateway_id,
        bundle_sha256=data_obj["bundle_sha256"],
        created_at=created,
        ids=tuple(ids),
    )


# --- signing ------------------------------------------------------------------------------------

# Deterministic ECDSA (RFC 6979): the same content and key give the same bytes, which golden
# tests need and which costs nothing in safety (no nonce from a weak random source).
_ECDSA = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


def _signed(domain: bytes, body: bytes, signer: Signer) -> bytes:
    cert = signer.cert.public_bytes(serialization.Encoding.DER)
    signature = signer.key.sign(domain + body, _ECDSA)
    return _U16.pack(len(cert)) + cert + _U16.pack(len(signature)) + signature + body


def _verify_signed(
    domain: bytes, data: bytes, trust: Trust, now: dt.datetime, *, what: str
) -> tuple[x509.Certificate, bytes]:
    at = 0
    parts: list[bytes] = []
    for _ in range(2):
        if len(data) - at < _U16.size:
            raise _short(what)
        (n,) = _U16.unpack_from(data, at)
        at += _U16.size
        if len(data) - at < n:
            raise _short(what)
        parts.append(data[at : at + n])
        at += n
    cert_der, signature = parts
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        _check_issued(cert, trust, now, what)
        public = cert.public_key()
    except _CERT_ERRORS as exc:
        raise BundleGarbageError(
            f"{what} carries no readable certificate: it was damaged; get a new one"
        ) from exc
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise BundleUntrustedError(f"{what} signer's certificate is not an EC certificate")
    try:
        public.verify(signature, domain + data[at:], ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise BundleSignatureError(
            f"{what} signature does not match its content: it was altered or forged; "
            "nothing was accepted. Make a new one from the original source"
        ) from exc
    return cert, data[at:]


# What a damaged certificate raises from parsing or from reading its (lazily parsed) parts.
_CERT_ERRORS = (
    ValueError,
    TypeError,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
)


def _short(what: str) -> BundleError:
    return BundleGarbageError(f"{what} is cut short inside its signature block: get a new one")


def _check_issued(cert: x509.Certificate, trust: Trust, now: dt.datetime, what: str) -> None:
    name = common_name(cert)
    try:
        cert.verify_directly_issued_by(trust.ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise BundleUntrustedError(
            f"{what} is signed by {name!r}, whose certificate is not from this deployment's "
            "CA: an unknown gateway. Issue it with `gempita pki` from the CA given here, or "
            "pass the right --ca-file"
        ) from exc
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise BundleUntrustedError(
            f"{what} signer {name!r}'s certificate is not valid now (valid "
            f"{cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}): "
            "renew it with `gempita pki` or check this machine's clock"
        )
    try:
        ca_flag = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        ca_flag = False
    if ca_flag:
        raise BundleUntrustedError(f"{what} is signed by a CA certificate, not by a gateway's")


# --- sealing ------------------------------------------------------------------------------------


def _derive(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    # Both public keys go into the salt so that the key belongs to this one exchange.
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral_public + recipient_public,
        info=_HKDF_INFO,
    ).derive(shared)


def _load_private(raw: bytes) -> X25519PrivateKey:
    if len(raw) != _X25519_LEN:
        raise BundleUsageError("central's X25519 private key must be 32 raw bytes")
    return X25519PrivateKey.from_private_bytes(raw)


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _random_nonce() -> bytes:
    return os.urandom(_NONCE_LEN)
