"""The fixed inputs of the golden bundle (tests/bundle/golden/, written by make_golden.py)."""

from __future__ import annotations

from pathlib import Path

from tests.bundle.keys import Keys, load_keys

GOLDEN = Path(__file__).parent / "golden"
EPHEMERAL = bytes(range(1, 33))
NONCE = bytes(range(100, 112))
EXPORT_ID = "golden-export"
PAYLOADS = (
    b'{"schema":"gempita.reading/1","id":"r-1"}',
    b'{"schema":"gempita.reading/1","id":"r-2"}',
    b"",  # an empty frame still round-trips: the codec never looks inside a payload
)


def load_golden_keys() -> Keys:
    return load_keys(GOLDEN)
