"""Write the golden key material and bundle (run once; the files are committed).

.venv/bin/python -m tests.bundle.make_golden
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from core.bundle import encode_bundle
from tests.bundle.golden_data import (
    EPHEMERAL,
    EXPORT_ID,
    GOLDEN,
    NONCE,
    PAYLOADS,
    load_golden_keys,
)
from tests.bundle.keys import make_keys


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    if not (GOLDEN / "ca.crt").exists():
        make_keys(GOLDEN)
    keys = load_golden_keys()
    data = encode_bundle(
        PAYLOADS,
        first_seq=7,
        last_seq=9,
        created_at=dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC),
        export_id=EXPORT_ID,
        signer=keys.gateway,
        recipient_public_key=keys.x25519_public,
        ephemeral=X25519PrivateKey.from_private_bytes(EPHEMERAL),
        nonce=NONCE,
    )
    Path(GOLDEN / "three.gempita-bundle").write_bytes(data)


if __name__ == "__main__":
    main()
