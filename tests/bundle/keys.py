"""Real `gempita pki` material for the bundle tests: a CA, a gateway, central, a stranger."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.pki import init_ca, issue
from core.bundle import Signer, Trust, load_signer, load_trust


@dataclass(frozen=True)
class Keys:
    directory: Path
    trust: Trust
    gateway: Signer
    central: Signer
    x25519_private: bytes
    x25519_public: bytes
    x25519_key_file: Path  # hex, as `gempita demo` writes central.key
    x25519_pub_file: Path  # hex, as kiosk.settings.central_public_key_file holds it
    # A moment inside every certificate's validity: taken after issuing, so tests that run long
    # after collection never ask for a time before the certificates existed.
    now: dt.datetime


def make_keys(directory: Path, *, gateway_id: str = "gw-001") -> Keys:
    """A deployment's PKI and central's X25519 pair, written the way the real tools write them."""
    init_ca(directory)
    gw = issue(directory, gateway_id)
    central = issue(directory, "central")
    private = X25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    raw_public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    key_file, pub_file = directory / "central.x25519", directory / "central.pub"
    key_file.write_text(raw_private.hex())
    pub_file.write_text(raw_public.hex())
    return Keys(
        directory=directory,
        trust=load_trust((directory / "ca.crt").read_bytes()),
        gateway=load_signer(gw.cert.read_bytes(), gw.key.read_bytes()),
        central=load_signer(central.cert.read_bytes(), central.key.read_bytes()),
        x25519_private=raw_private,
        x25519_public=raw_public,
        x25519_key_file=key_file,
        x25519_pub_file=pub_file,
        now=dt.datetime.now(dt.UTC),
    )


def load_keys(directory: Path, *, gateway_id: str = "gw-001") -> Keys:
    """Read back what `make_keys` wrote."""
    raw_private = bytes.fromhex((directory / "central.x25519").read_text())
    raw_public = bytes.fromhex((directory / "central.pub").read_text())
    return Keys(
        directory=directory,
        trust=load_trust((directory / "ca.crt").read_bytes()),
        gateway=load_signer(
            (directory / f"{gateway_id}.crt").read_bytes(),
            (directory / f"{gateway_id}.key").read_bytes(),
        ),
        central=load_signer(
            (directory / "central.crt").read_bytes(), (directory / "central.key").read_bytes()
        ),
        x25519_private=raw_private,
        x25519_public=raw_public,
        x25519_key_file=directory / "central.x25519",
        x25519_pub_file=directory / "central.pub",
        now=max(
            x509.load_pem_x509_certificate(
                (directory / f"{name}.crt").read_bytes()
            ).not_valid_before_utc
            for name in (gateway_id, "central")
        ),
    )
