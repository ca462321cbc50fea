"""NIK protection: a keyed pseudonym for the gateway, the NIK itself sealed for central only.

The sealed box (seal/unseal, central's key pair) is in core/sealing.py, shared with central,
which opens it; the gateway cannot read back what it sealed, so a stolen kiosk leaks no NIK.
"""

from __future__ import annotations

import hashlib
import hmac

from core.sealing import KeyPair, SealError, generate_keypair, seal, unseal
from kiosk.nik import normalise

__all__ = [
    "MIN_PROGRAMME_KEY_LEN",
    "KeyPair",
    "SealError",
    "generate_keypair",
    "pseudonym",
    "seal",
    "unseal",
]

MIN_PROGRAMME_KEY_LEN = 16


def pseudonym(nik: str, programme_key: bytes) -> str:
    """Stable keyed pseudonym (hex HMAC-SHA256): the same resident on every kiosk and kit."""
    if len(programme_key) < MIN_PROGRAMME_KEY_LEN:
        raise ValueError("the programme key must be at least 16 bytes")
    return hmac.new(programme_key, normalise(nik).encode("ascii"), hashlib.sha256).hexdigest()
