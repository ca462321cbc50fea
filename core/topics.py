"""Topic names and the receipt format: the MQTT contract both ends share (broker/TOPICS.md).

Each gateway publishes under its own namespace, `gempita/v1/<gateway_id>/...`, so the broker's
ACL can pin a gateway to it; central answers on the same gateway's receipts topic.
"""

from __future__ import annotations

import orjson

from core.errors import PayloadError

PREFIX = "gempita/v1"
SCHEMA_RECEIPT = "gempita.receipt/1"
# Every gateway's readings, for central's (shared) subscription.
READINGS_FILTER = f"{PREFIX}/+/readings"


def topic_readings(gateway_id: str) -> str:
    return f"{PREFIX}/{gateway_id}/readings"


def topic_status(gateway_id: str) -> str:
    return f"{PREFIX}/{gateway_id}/status"


def topic_receipts(gateway_id: str) -> str:
    return f"{PREFIX}/{gateway_id}/receipts"


def gateway_of(topic: str) -> str:
    """The gateway id in `gempita/v1/<id>/<leaf>`, or "" when the topic is not of that shape."""
    parts = topic.split("/")
    return parts[2] if len(parts) == 4 and f"{parts[0]}/{parts[1]}" == PREFIX else ""


def encode_receipt(ids: list[str]) -> bytes:
    return orjson.dumps({"schema": SCHEMA_RECEIPT, "ids": ids})


def parse_receipt(payload: bytes | bytearray) -> list[str]:
    """Reading ids from a `gempita.receipt/1` payload, or PayloadError; never anything else.

    orjson, not json: it stops nesting at 1,024 levels with a decode error, where json.loads
    raised RecursionError (which escaped every handler and wedged the connection).
    """
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"receipt is not UTF-8 JSON ({exc})") from exc
    ids = data.get("ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise PayloadError("receipt ids must be a list of strings")
    return ids
