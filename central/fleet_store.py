"""Central's fleet tables: every gateway's latest status, and a timeline of what changed.

`parse_status` turns a retained `gempita.status/1` payload (or the Last Will) into a frozen
`GatewayStatus`, or raises `FleetStatusError`; nothing else escapes it. `FleetStore.apply`
upserts the row and appends the timeline events the change implies, in one transaction.

Several central instances each keep the whole table (every one subscribes to every status, no
shared subscription), so both writes are idempotent: the row is an upsert, and an event's key
(gateway, the gateway's own status time, kind, code) makes a second instance's copy of the same
event a no-op.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from central.errors import CentralError
from central.fleet_rules import (
    DEFAULT_THRESHOLDS,
    Alarm,
    DeviceSnapshot,
    GatewaySnapshot,
    Thresholds,
    evaluate,
)
from central.store import metadata
from core.reading import ASSURANCE_REASONS_MAX, AssuranceStatus, is_reason_code
from core.topics import gateway_of

SCHEMA_STATUS = "gempita.status/1"
STATES = ("online", "offline")
KINDS = ("kiosk", "kit")
# A gateway lists a handful of devices; a payload claiming thousands is junk, not a fleet.
MAX_DEVICES = 64
_TEXT_CAP = 200
# How much older than the stored status a late one may be and still be taken for a late copy.
LATE_WINDOW_S = 60.0

fleet_gateways = sa.Table(
    "fleet_gateways",
    metadata,
    sa.Column("gateway_id", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=True),
    sa.Column("site_id", sa.String(100), nullable=True),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("version", sa.String(40), nullable=True),
    # The gateway's own clock for its last status; central's for the rest.
    sa.Column("status_at", sa.Float, nullable=True),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("state_since", sa.Float, nullable=False),
    sa.Column("outbox_pending", sa.Integer, nullable=True),
    sa.Column("outbox_published", sa.Integer, nullable=True),
    sa.Column("outbox_unconfirmed", sa.Integer, nullable=True),
    sa.Column("outbox_refused", sa.Integer, nullable=True),
    sa.Column("outbox_max", sa.Integer, nullable=True),
    sa.Column("oldest_unconfirmed_age_s", sa.Float, nullable=True),
    sa.Column("clock_trusted", sa.Boolean, nullable=True),
    sa.Column("reported_alarms", sa.Text, nullable=False),  # JSON list of strings
    sa.Column("devices", sa.Text, nullable=False),  # JSON list of device objects
    sa.Column("alarms", sa.Text, nullable=False),  # JSON list of the codes that held last
)
fleet_events = sa.Table(
    "fleet_events",
    metadata,
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("gateway_id", sa.String(100), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("status_at", sa.Float, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("code", sa.String(120), nullable=False),
    sa.Column("detail", sa.String(300), nullable=True),
    sa.UniqueConstraint("gateway_id", "status_at", "kind", "code", name="uq_fleet_events_key"),
    sa.Index("ix_fleet_events_gateway_at", "gateway_id", "at"),
)


class FleetStatusError(CentralError):
    """A status payload we cannot use; the message names the field and the rule, not the value."""


@dataclass(frozen=True, slots=True)
class DeviceAssurance:
    status: str  # a core.reading.AssuranceStatus value
    reasons: tuple[str, ...]  # short codes (core.assurance.Reason), no values


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    name: str
    transport: str | None
    kind: str | None
    state: str | None
    last_seen: str | None  # ISO 8601, as the gateway said it
    last_reading_at: str | None
    battery_pct: int | None
    readings_total: int | None
    last_error: str | None
    failures: int | None
    # The kit-assurance verdict the gateway published (core/assurance.py); None when the
    # gateway does not judge its devices.
    assurance: DeviceAssurance | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "transport": self.transport,
            "kind": self.kind,
            "state": self.state,
            "last_seen": self.last_seen,
            "last_reading_at": self.last_reading_at,
            "battery_pct": self.battery_pct,
            "readings_total": self.readings_total,
            "last_error": self.last_error,
            "failures": self.failures,
            "assurance": None
            if self.assurance is None
            else {"status": self.assurance.status, "reasons": list(self.assurance.reasons)},
        }


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    gateway_id: str
    state: str
    at: float
    version: str | None
    site_id: str | None
    kind: str | None
    outbox: Mapping[str, int | None]
    oldest_unconfirmed_age_s: float | None
    clock_trusted: bool | None
    reported_alarms: tuple[str, ...]
    devices: tuple[DeviceStatus, ...]
    full: bool  # False for the Last Will: it carries only the state, keep what we knew


def parse_status(topic: str, payload: bytes) -> GatewayStatus:
    """The status on `topic`, or FleetStatusError; never another exception."""
    gateway_id = gateway_of(topic)
    if not gateway_id or not topic.endswith("/status"):
        raise FleetStatusError("topic is not gempita/v1/<gateway>/status")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise FleetStatusError(f"status is not UTF-8 JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise FleetStatusError("status must be a JSON object")
    if data.get("schema") != SCHEMA_STATUS:
        raise FleetStatusError(f"schema must be {SCHEMA_STATUS}")
    if data.get("gateway_id", gateway_id) != gateway_id:
        raise FleetStatusError("gateway_id does not match the topic")
    state = data.get("state")
    if state not in STATES:
        raise FleetStatusError("state must be online or offline")
    at = _number(data.get("at"), "at")
    if at is None:
        raise FleetStatusError("at is required (epoch seconds)")
    full = state == "online"
    outbox = data.get("outbox") or {}
    if not isinstance(outbox, dict):
        raise FleetStatusError("outbox must be an object")
    counts = {
        key: _count(outbox.get(key), f"outbox.{key}")
        for key in ("pending", "published", "unconfirmed", "refused", "max_readings")
    }
    alarms = data.get("alarms") or []
    if not isinstance(alarms, list) or not all(isinstance(a, str) for a in alarms):
        raise FleetStatusError("alarms must be a list of strings")
    devices = data.get("devices") or []
    if not isinstance(devices, list) or len(devices) > MAX_DEVICES:
        raise FleetStatusError(f"devices must be a list of at most {MAX_DEVICES}")
    kind = data.get("kind")
    clock = data.get("clock")
    trusted = clock.get("trusted") if isinstance(clock, dict) else None
    return GatewayStatus(
        gateway_id=gateway_id,
        state=state,
        at=at,
        version=_text(data.get("version"), "version"),
        site_id=_text(data.get("site_id"), "site_id"),
        kind=kind if kind in KINDS else None,
        outbox=counts,
        oldest_unconfirmed_age_s=_number(outbox.get("oldest_pending_age_s"), "outbox.oldest"),
        clock_trusted=trusted if isinstance(trusted, bool) else None,
        reported_alarms=tuple(a[:_TEXT_CAP] for a in alarms),
        devices=tuple(_device(d, i) for i, d in enumerate(devices)),
        full=full,
    )


def _number(value: object, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FleetStatusError(f"{field} must be a finite number")
    return float(value)


def _count(value: object, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FleetStatusError(f"{field} must be a whole number >= 0")
    return value


def _text(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise FleetStatusError(f"{field} must be a string")
    return value[:_TEXT_CAP]


def _device(raw: object, index: int) -> DeviceStatus:
    where = f"devices[{index}]"
    if not isinstance(raw, dict):
        raise FleetStatusError(f"{where} must be an object")
    name = _text(raw.get("name"), f"{where}.name")
    if not name:
        raise FleetStatusError(f"{where}.name is required")
    battery = _count(raw.get("battery_pct"), f"{where}.battery_pct")
    return DeviceStatus(
        name=name,
        transport=_text(raw.get("transport"), f"{where}.transport"),
        kind=_text(raw.get("kind"), f"{where}.kind"),
        state=_text(raw.get("state"), f"{where}.state"),
        last_seen=_iso(raw.get("last_seen"), f"{where}.last_seen"),
        last_reading_at=_iso(raw.get("last_reading_at"), f"{where}.last_reading_at"),
        battery_pct=battery,
        readings_total=_count(raw.get("readings_total"), f"{where}.readings_total"),
        last_error=_text(raw.get("last_error"), f"{where}.last_error"),
        failures=_count(raw.get("failures"), f"{where}.failures"),
        assurance=_assurance(raw.get("assurance"), f"{where}.assurance"),
    )


_ASSURANCE_STATUSES = frozenset(s.value for s in AssuranceStatus)


def _assurance(raw: object, where: str) -> DeviceAssurance | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise FleetStatusError(f"{where} must be an object")
    status = raw.get("status")
    if status not in _ASSURANCE_STATUSES:
        raise FleetStatusError(f"{where}.status must be ok, out_of_policy or unknown")
    reasons = raw.get("reasons") or []
    if (
        not isinstance(reasons, list)
        or len(reasons) > ASSURANCE_REASONS_MAX
        or not all(isinstance(r, str) and is_reason_code(r) for r in reasons)
    ):
        raise FleetStatusError(
            f"{where}.reasons must be a list of at most {ASSURANCE_REASONS_MAX} short codes"
        )
    return DeviceAssurance(str(status), tuple(dict.fromkeys(reasons)))


def _iso(value: object, field: str) -> str | None:
    text = _text(value, field)
    if text is not None and iso_epoch(text) is None:
        raise FleetStatusError(f"{field} must be an ISO 8601 time with its offset")
    return text


def iso_epoch(text: str | None) -> float | None:
    """Epoch seconds of an ISO 8601 time with an offset; None for anything else."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def snapshot(row: Mapping[str, Any]) -> GatewaySnapshot:
    """The rules' view of a fleet_gateways row."""
    devices = json.loads(row["devices"])
    return GatewaySnapshot(
        gateway_id=row["gateway_id"],
        state=row["state"],
        last_seen=row["last_seen"],
        reported_alarms=tuple(json.loads(row["reported_alarms"])),
        oldest_unconfirmed_age_s=row["oldest_unconfirmed_age_s"],
        clock_trusted=row["clock_trusted"],
        devices=tuple(
            DeviceSnapshot(
                d["name"],
                iso_epoch(d.get("last_seen")),
                d.get("last_error"),
                out_of_policy=(d.get("assurance") or {}).get("status") == "out_of_policy",
            )
            for d in devices
        ),
    )


@dataclass(frozen=True, slots=True)
class Applied:
    changed_state: bool
    events: int  # events this call inserted (a second instance inserts 0 for the same change)


class FleetStore:
    """Synchronous: call it from a worker thread, never from the event loop."""

    def __init__(self, engine: Engine, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
        self.engine = engine
        self.thresholds = thresholds

    def _upsert(self) -> Any:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(fleet_gateways)
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(fleet_gateways)

    def apply(self, status: GatewayStatus, now: float) -> Applied:
        with self.engine.begin() as conn:
            found = (
                conn.execute(
                    sa.select(fleet_gateways).where(
                        fleet_gateways.c.gateway_id == status.gateway_id
                    )
                )
                .mappings()
                .first()
            )
            old = None if found is None else dict(found)
            if (
                old is not None
                and status.full
                and old["state"] == "online"
                and old["status_at"] is not None
                and 0 < old["status_at"] - status.at <= LATE_WINDOW_S
            ):
                # An online status a little older than the row's: another instance, or a
                # redelivery, got the newer one in first, and this one would roll it back.
                # Only a little: a gateway whose clock was set back must not be ignored until
                # its clock catches up. The Last Will is exempt (not full): its time is when
                # the session began, so it is always "older" than that session's statuses.
                return Applied(False, 0)
            row = self._row(status, old, now)
            insert = self._upsert()
            values = {k: v for k, v in row.items() if k != "gateway_id"}
            conn.execute(
                insert.values(**row).on_conflict_do_update(
                    index_elements=["gateway_id"], set_=values
                )
            )
            events = self._events(status, old, row, now)
            inserted = self._insert_events(conn, events)
            changed = old is None or old["state"] != row["state"]
            return Applied(changed, inserted)

    def _row(
        self, status: GatewayStatus, old: Mapping[str, Any] | None, now: float
    ) -> dict[str, Any]:
        if not status.full and old is not None:
            # The Last Will says only "offline": keep the last counts and devices we knew.
            row = dict(old)
            row.update(state=status.state, version=status.version or old["version"])
        else:
            o = status.outbox
            row = {
                "gateway_id": status.gateway_id,
                "kind": status.kind,
                "site_id": status.site_id,
                "state": status.state,
                "version": status.version,
                "status_at": status.at,
                "last_seen": now,
                "outbox_pending": o.get("pending"),
                "outbox_published": o.get("published"),
                "outbox_unconfirmed": o.get("unconfirmed"),
                "outbox_refused": o.get("refused"),
                "outbox_max": o.get("max_readings"),
                "oldest_unconfirmed_age_s": status.oldest_unconfirmed_age_s,
                "clock_trusted": status.clock_trusted,
                "reported_alarms": json.dumps(list(status.reported_alarms)),
                "devices": json.dumps([d.as_json() for d in status.devices]),
            }
            if old is None and not status.full:
                row["last_seen"] = status.at  # never heard online: the will's time is all
        if old is None or old["state"] != status.state:
            row["state_since"] = now
        else:
            row["state_since"] = old["state_since"]
        row["alarms"] = json.dumps([a.code for a in self._alarms(row, now)])
        return row

    def _alarms(self, row: Mapping[str, Any], now: float) -> list[Alarm]:
        return evaluate(snapshot(row), now, self.thresholds)

    def _events(
        self,
        status: GatewayStatus,
        old: Mapping[str, Any] | None,
        row: Mapping[str, Any],
        now: float,
    ) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []

        def add(kind: str, code: str, detail: str | None = None) -> None:
            events.append(
                {
                    "gateway_id": status.gateway_id,
                    "at": now,
                    "status_at": status.at,
                    "kind": kind,
                    "code": code[:120],
                    "detail": None if detail is None else detail[:300],
                }
            )

        if old is None:
            add("first_seen", status.state)
        elif old["state"] != row["state"]:
            add("went_" + row["state"], row["state"])
        before = set(json.loads(old["alarms"])) if old is not None else set()
        after = set(json.loads(row["alarms"]))
        # "offline" has its own went_offline event; an alarm per state change would say it twice.
        for code in sorted(after - before - {"offline"}):
            add("alarm_raised", code)
        for code in sorted(before - after - {"offline"}):
            add("alarm_cleared", code)
        if status.full:
            errors_before = (
                {d["name"]: d.get("last_error") for d in json.loads(old["devices"])}
                if old is not None
                else {}
            )
            for device in status.devices:
                if device.last_error and device.last_error != errors_before.get(device.name):
                    add("device_error", device.name, device.last_error)
        return events

    def _insert_events(self, conn: Connection, events: Sequence[dict[str, Any]]) -> int:
        if not events:
            return 0
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            stmt: Any = postgresql.insert(fleet_events).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects import sqlite

            stmt = sqlite.insert(fleet_events).on_conflict_do_nothing()
        inserted = conn.execute(stmt.returning(fleet_events.c.n), list(events)).all()
        return len(inserted)
