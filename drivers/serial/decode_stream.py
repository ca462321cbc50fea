"""``gempita decode --protocol NAME FILE|-``: a recorded meter->host byte stream -> records.

Each protocol registers a stream decoder in `drivers.serial.registry`; it returns JSON-ready
dicts (field names are documented in that decoder's docstring) and raises
`drivers.errors.DecodeError` with the offset and reason of the first bad frame. Input may be raw
bytes or hex text (whitespace, ``0x`` prefixes and ``:``/``,`` separators allowed), because
captures are passed around as both.
"""

from __future__ import annotations

import re
import string

from drivers.serial import registry

_HEX_SEPARATORS = re.compile(r"0[xX]|[\s:,]")
_HEX_DIGITS = frozenset(string.hexdigits)


def decode_stream(protocol: str, data: bytes) -> list[dict[str, object]]:
    """Decode `data` (meter -> host bytes) with the named protocol's stream decoder."""
    decoder = registry.get(protocol).load_stream_decoder()
    return decoder(data)


def read_stream_input(raw: bytes) -> bytes:
    """Raw bytes as given, or the bytes spelled by hex text.

    Text counts as hex only when, after removing separators, it is a non-empty even-length run
    of hex digits; anything else (an ASCII capture such as an Ultra 2 dump) is taken literally.
    """
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return raw
    compact = _HEX_SEPARATORS.sub("", text)
    if not compact or len(compact) % 2 or not set(compact) <= _HEX_DIGITS:
        return raw
    return bytes.fromhex(compact)
