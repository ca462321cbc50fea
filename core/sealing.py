"""Sealing a NIK for central: an ECIES-style box only central's private key can open.

The box is built from `cryptography` primitives: a fresh X25519 key per message, HKDF-SHA256
over the shared secret (bound to both public keys), ChaCha20-Poly1305. The kiosk seals, central
unseals; both sides live here because central may not import the kiosk (the floors).
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import CoreError

_VERSION = 1
_INFO = b"gempita/nik-seal/v1"
_AAD = b"gempita.sealed-nik/1"
_KEY_LEN = 32
_NONCE_LEN = 12


class SealError(CoreError, ValueError):
    """A sealed box that is malformed, for another key, or tampered with."""


@dataclass(frozen=True, slots=True)
class KeyPair:
    private_key: bytes  # raw 32 bytes: stays at central
    public_key: bytes  # raw 32 bytes: goes into every kiosk's config


def generate_keypair() -> KeyPair:
    private = X25519PrivateKey.generate()
    return KeyPair(
        private_key=private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        ),
        public_key=_raw_public(private.public_key()),
    )


def seal(plaintext: str, recipient_public_key: bytes) -> str:
    """Encrypt to central's X25519 public key; returns base64 text."""
    recipient = _load_public(recipient_public_key)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = _raw_public(ephemeral.public_key())
    key = _derive(ephemeral.exchange(recipient), ephemeral_public, recipient_public_key)
    nonce = os.urandom(_NONCE_LEN)
    box = ChaCha20Poly1305(key).encrypt(nonce, plaintext.encode("utf-8"), _AAD)
    return base64.b64encode(bytes([_VERSION]) + ephemeral_public + nonce + box).decode("ascii")


def unseal(sealed: str, recipient_private_key: bytes) -> str:
    """Central's side of `seal`."""
    try:
        blob = base64.b64decode(sealed, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SealError("sealed value is not base64") from exc
    header = 1 + _KEY_LEN + _NONCE_LEN
    if len(blob) < header + 16 or blob[0] != _VERSION:
        raise SealError("sealed value has an unknown version or is truncated")
    ephemeral_public = blob[1 : 1 + _KEY_LEN]
    nonce = blob[1 + _KEY_LEN : header]
    try:
        private = X25519PrivateKey.from_private_bytes(recipient_private_key)
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    except ValueError as exc:
        raise SealError("key agreement failed") from exc
    key = _derive(shared, ephemeral_public, _raw_public(private.public_key()))
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, blob[header:], _AAD).decode("utf-8")
    except (InvalidTag, UnicodeDecodeError) as exc:
        raise SealError("sealed value was tampered with or is for another key") from exc


def _derive(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=_KEY_LEN,
        salt=ephemeral_public + recipient_public,
        info=_INFO,
    )
    return hkdf.derive(shared)


def _load_public(raw: bytes) -> X25519PublicKey:
    if len(raw) != _KEY_LEN:
        raise ValueError("central's public key must be 32 raw bytes (X25519)")
    return X25519PublicKey.from_public_bytes(raw)


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
