"""The bundle and receipt codec: golden bytes with fixed keys, properties, every refusal."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.bundle import (
    Bundle,
    BundleError,
    BundleFormatError,
    BundleGarbageError,
    BundleReceipt,
    BundleRecipientError,
    BundleSignatureError,
    BundleTruncatedError,
    BundleUntrustedError,
    BundleUsageError,
    Manifest,
    ReceiptMismatchError,
    decode_bundle,
    decode_bundle_receipt,
    encode_bundle,
    encode_bundle_receipt,
)
from tests.bundle.golden_data import EPHEMERAL, EXPORT_ID, GOLDEN, NONCE, PAYLOADS
from tests.bundle.golden_data import load_golden_keys as golden_keys
from tests.bundle.keys import Keys, make_keys

NOW = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)  # inside the golden certificates' validity
CREATED = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)
_FIXTURE = [HealthCheck.function_scoped_fixture]  # the keys are module-scoped: never reset
GOLDEN_BUNDLE = (GOLDEN / "three.gempita-bundle").read_bytes()


@pytest.fixture(scope="module")
def keys() -> Keys:
    return golden_keys()


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """Another deployment: its own CA, its own gw-001, its own central."""
    return make_keys(tmp_path_factory.mktemp("stranger"))


def _open(data: bytes, keys: Keys, now: dt.datetime = NOW) -> Bundle:
    return decode_bundle(data, recipient_private_key=keys.x25519_private, trust=keys.trust, now=now)


def _seal(keys: Keys, payloads: tuple[bytes, ...] = PAYLOADS, **kw: object) -> bytes:
    args: dict[str, object] = {
        "first_seq": 7,
        "last_seq": 9,
        "created_at": CREATED,
        "export_id": EXPORT_ID,
        "signer": keys.gateway,
        "recipient_public_key": keys.x25519_public,
    }
    args.update(kw)
    return encode_bundle(payloads, **args)  # type: ignore[arg-type]


def test_golden_bundle_decodes_to_the_whole_expected_object(keys: Keys) -> None:
    assert _open(GOLDEN_BUNDLE, keys) == Bundle(
        manifest=Manifest(
            gateway_id="gw-001",
            count=3,
            first_seq=7,
            last_seq=9,
            created_at=CREATED,
            # The frames spelled out by hand: a 4-byte big-endian length, then the payload.
            sha256=hashlib.sha256(
                b"".join(len(p).to_bytes(4, "big") + p for p in PAYLOADS)
            ).hexdigest(),
            size=sum(4 + len(p) for p in PAYLOADS),
            chunk=1,
            chunks=1,
            export_id=EXPORT_ID,
        ),
        readings=PAYLOADS,
        signer="gw-001",
        digest=hashlib.sha256(GOLDEN_BUNDLE).hexdigest(),
    )


def test_golden_bundle_is_encoded_byte_for_byte(keys: Keys) -> None:
    again = _seal(keys, ephemeral=X25519PrivateKey.from_private_bytes(EPHEMERAL), nonce=NONCE)
    assert again == GOLDEN_BUNDLE


def test_manifest_in_the_clear_is_only_the_header(keys: Keys) -> None:
    # Nothing but the magic, the recipient fingerprint, the ephemeral key, the nonce and a
    # length precede the ciphertext: no gateway id, no count, no reading id on the stick.
    for secret in (b"gw-001", b"r-1", b"gempita.reading", b"golden-export", b"gempita.bundle/1"):
        assert secret not in GOLDEN_BUNDLE


@settings(max_examples=40, deadline=None, suppress_health_check=_FIXTURE)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=30), st.integers(1, 5))
def test_round_trip(keys: Keys, payloads: list[bytes], chunks: int) -> None:
    data = _seal(keys, tuple(payloads), chunk=chunks, chunks=chunks)
    bundle = _open(data, keys)
    assert bundle.readings == tuple(payloads)
    assert (bundle.manifest.count, bundle.manifest.chunk, bundle.manifest.chunks) == (
        len(payloads),
        chunks,
        chunks,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=_FIXTURE)
@given(st.data())
def test_any_byte_flipped_is_refused_whole(keys: Keys, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(GOLDEN_BUNDLE) - 1))
    bit = data.draw(st.integers(0, 7))
    damaged = bytearray(GOLDEN_BUNDLE)
    damaged[at] ^= 1 << bit
    with pytest.raises(BundleError):
        _open(bytes(damaged), keys)


@settings(max_examples=100, deadline=None, suppress_health_check=_FIXTURE)
@given(st.integers(0, len(GOLDEN_BUNDLE) - 1))
def test_any_truncation_is_refused(keys: Keys, length: int) -> None:
    with pytest.raises(BundleError):
        _open(GOLDEN_BUNDLE[:length], keys)


@settings(max_examples=200, deadline=None, suppress_health_check=_FIXTURE)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_a_bundle_error_and_nothing_else(keys: Keys, blob: bytes) -> None:
    for data in (blob, GOLDEN_BUNDLE[:17] + blob):
        with pytest.raises(BundleError):
            _open(data, keys)


def test_truncated_says_copy_again(keys: Keys) -> None:
    with pytest.raises(BundleTruncatedError, match=r"truncated.*copy it"):
        _open(GOLDEN_BUNDLE[:-10], keys)
    with pytest.raises(BundleTruncatedError):
        _open(GOLDEN_BUNDLE[:30], keys)


def test_trailing_bytes_are_refused(keys: Keys) -> None:
    with pytest.raises(BundleFormatError, match="unexpected bytes after its end"):
        _open(GOLDEN_BUNDLE + b"x", keys)


def test_not_a_bundle(keys: Keys) -> None:
    with pytest.raises(BundleFormatError, match="not a Gempita bundle"):
        _open(b"PK\x03\x04 a zip file", keys)


def test_wrong_recipient(keys: Keys, stranger: Keys) -> None:
    with pytest.raises(BundleRecipientError, match="another central key"):
        decode_bundle(
            GOLDEN_BUNDLE,
            recipient_private_key=stranger.x25519_private,
            trust=keys.trust,
            now=NOW,
        )


def test_ciphertext_altered_is_garbage(keys: Keys) -> None:
    damaged = bytearray(GOLDEN_BUNDLE)
    damaged[-40] ^= 0x01
    with pytest.raises(BundleGarbageError, match="altered or damaged"):
        _open(bytes(damaged), keys)


def test_unknown_gateway_from_another_ca(keys: Keys, stranger: Keys) -> None:
    # Encrypted to OUR central (anyone can), signed by a gw-001 of another CA.
    data = _seal(keys, signer=stranger.gateway)
    with pytest.raises(BundleUntrustedError, match="not from this deployment's CA"):
        _open(data, keys)


def test_bad_signature(keys: Keys, stranger: Keys) -> None:
    # Our gateway's certificate, a signature by another key: what a forger without the key
    # can do at best.
    from core.bundle import Signer

    forged = Signer(stranger.gateway.key, keys.gateway.cert)
    with pytest.raises(BundleSignatureError, match="signature does not match"):
        _open(_seal(keys, signer=forged), keys)


def test_central_cannot_pose_as_a_gateway(keys: Keys) -> None:
    # A certificate from the CA, but the manifest takes its gateway id from the signer: a
    # bundle signed by central says it is from "central", which no gateway topic matches.
    bundle = _open(_seal(keys, signer=keys.central), keys)
    assert bundle.manifest.gateway_id == bundle.signer == "central"


def test_expired_certificate(keys: Keys) -> None:
    later = NOW + dt.timedelta(days=3650)
    with pytest.raises(BundleUntrustedError, match="not valid now"):
        _open(GOLDEN_BUNDLE, keys, now=later)


def test_usage_errors(keys: Keys) -> None:
    with pytest.raises(BundleUsageError):
        _seal(keys, ())
    with pytest.raises(BundleUsageError):
        _seal(keys, recipient_public_key=b"short")
    with pytest.raises(BundleUsageError):
        _seal(keys, chunk=3, chunks=2)


# --- receipts ---------------------------------------------------------------------------------


def _receipt(keys: Keys, gateway_id: str = "gw-001") -> BundleReceipt:
    return BundleReceipt(
        gateway_id=gateway_id, bundle_sha256="ab" * 32, created_at=CREATED, ids=("r-1", "r-2")
    )


def test_receipt_round_trip(keys: Keys) -> None:
    data = encode_bundle_receipt(_receipt(keys), keys.central)
    assert decode_bundle_receipt(data, trust=keys.trust, gateway_id="gw-001", now=NOW) == (
        _receipt(keys)
    )


def test_receipt_for_another_gateway_is_refused(keys: Keys) -> None:
    data = encode_bundle_receipt(_receipt(keys, "gw-002"), keys.central)
    with pytest.raises(ReceiptMismatchError, match="for gateway 'gw-002', this is 'gw-001'"):
        decode_bundle_receipt(data, trust=keys.trust, gateway_id="gw-001", now=NOW)


def test_receipt_signed_by_a_gateway_is_refused(keys: Keys) -> None:
    data = encode_bundle_receipt(_receipt(keys), keys.gateway)
    with pytest.raises(BundleUntrustedError, match="not by central"):
        decode_bundle_receipt(data, trust=keys.trust, gateway_id="gw-001", now=NOW)


def test_receipt_from_another_deployment_is_refused(keys: Keys, stranger: Keys) -> None:
    data = encode_bundle_receipt(_receipt(keys), stranger.central)
    with pytest.raises(BundleUntrustedError, match="not from this deployment's CA"):
        decode_bundle_receipt(data, trust=keys.trust, gateway_id="gw-001", now=NOW)


def test_receipt_any_byte_flipped_is_refused(keys: Keys) -> None:
    data = encode_bundle_receipt(_receipt(keys), keys.central)
    for at in range(len(data)):
        damaged = bytearray(data)
        damaged[at] ^= 0x40
        with pytest.raises(BundleError):
            decode_bundle_receipt(bytes(damaged), trust=keys.trust, gateway_id="gw-001", now=NOW)


def test_golden_files_are_where_the_tests_expect(keys: Keys) -> None:
    assert Path(GOLDEN / "ca.crt").exists()
    assert not Path(GOLDEN / "ca.key").exists()  # nobody can issue with the golden CA
