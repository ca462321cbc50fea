"""Status payloads shaped as the gateway's publisher writes them (gateway/publisher.py)."""

from __future__ import annotations

import json
from typing import Any

from core.topics import topic_status


def status(gateway_id: str, at: float, state: str = "online", **extra: Any) -> bytes:
    body: dict[str, Any] = {
        "schema": "gempita.status/1",
        "gateway_id": gateway_id,
        "state": state,
        "version": "0.1.0",
        "at": at,
    }
    if state == "online":
        body.update(
            {
                "site_id": "kios-karang-jati",
                "outbox": {
                    "pending": 2,
                    "published": 3,
                    "confirmed": 120,
                    "refused": 0,
                    "unconfirmed": 5,
                    "max_readings": 500000,
                    "oldest_pending_age_s": 4.2,
                    "last_error": None,
                },
                "alarms": [],
                "publisher": {"connected": True},
                "devices": [
                    {
                        "name": "bp-kiosk",
                        "transport": "ble",
                        "kind": "blood_pressure",
                        "state": "idle",
                        "last_seen": "2026-11-27T02:00:00+00:00",
                        "last_reading_at": "2026-11-27T01:59:00+00:00",
                        "battery_pct": 80,
                        "readings_total": 12,
                        "last_error": None,
                        "failures": 0,
                    }
                ],
            }
        )
    body.update(extra)
    return json.dumps(body).encode()


def topic(gateway_id: str) -> str:
    return topic_status(gateway_id)
