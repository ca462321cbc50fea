"""What the kiosk app is built from: its settings and the parts the gateway injects.

The app never reaches into the gateway: everything it needs (the binder, the event bus,
sync and device status, pairing) arrives here, so tests and the gateway build it the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from core.assurance import ControlResult, Entries
from core.clock import DEFAULT_SITE_TZ, utc_now
from core.events import EventBus
from kiosk.binding import SessionBinder
from kiosk.carry import Carry
from kiosk.pairing import Pairing


@dataclass(frozen=True, slots=True)
class KioskSettings:
    site_name: str
    kiosk_id: str
    puskesmas_name: str
    puskesmas_address: str
    programme_key: bytes  # HMAC-SHA256 key for NIK pseudonyms (shared programme-wide)
    central_public_key: bytes  # raw 32-byte X25519 public key of central (NIK sealing)
    admin_password_hash: str  # kiosk.security.hash_secret() output
    kader_pin_hashes: Mapping[str, str] = field(default_factory=dict)  # kader id -> hash
    puskesmas_phone: str | None = None
    puskesmas_hours: str | None = None  # e.g. "Senin–Sabtu 07.30–14.00", shown as written
    languages: tuple[str, ...] = ("id", "en")  # first one is the default
    consent_version: str = "2026.1"
    idle_timeout_s: float = 90.0  # resident screen wiped after this long without input
    kader_idle_timeout_s: float = 1800.0
    admin_idle_timeout_s: float = 900.0
    measurement_timeout_s: float = 180.0  # "tidak ada hasil — coba lagi" after this
    bp_device: str | None = "bp"  # gateway device config names
    glucose_device: str | None = "glucose"
    timezone: str = DEFAULT_SITE_TZ  # WITA, for what residents read on screen and in the QR
    timezone_label: str = "WITA"
    thresholds_path: Path | None = None  # None: the packaged kiosk/thresholds.toml
    roster_db_path: str = ":memory:"  # kader day list (SQLite); never holds the NIK in clear
    login_max_failures: int = 5
    login_lockout_s: float = 300.0
    portal_host: str = "gempita.lan"  # where captive-portal probes are redirected
    portal_accept_ttl_s: float = 12 * 3600.0
    # Pause between the measuring page's status requests. Each is a long poll (the server
    # answers when the status changes), so this only paces the live cuff-pressure updates.
    poll_interval_ms: int = 50
    # Central's bundle upload endpoint (central/bundle_upload.py), e.g.
    # "https://gempita.dinkes.example/api/bundles": where the kader's phone takes the kit's
    # bundles ("Bawa data ke pusat"). Empty: the kader page does not offer it.
    central_upload_url: str = ""


class AssuranceDesk(Protocol):
    """The kit's assurance book as the operator page edits it (gateway.assurance)."""

    def entries(self, name: str) -> Entries: ...

    def set_entries(self, name: str, entries: Entries) -> None: ...

    def qc_log(self, name: str) -> tuple[ControlResult, ...]: ...


@dataclass(slots=True)
class KioskDeps:
    settings: KioskSettings
    binder: SessionBinder
    events: EventBus
    sync_state: Callable[[], Mapping[str, Any]]  # e.g. {"pending": 3, "confirmed": 120, ...}
    device_status: Callable[[], list[dict[str, Any]]]  # DeviceStatus.as_dict() rows
    request_measurement: Callable[[str], None] | None = None  # kind: "blood_pressure"/"glucose"
    start_pairing: Callable[[], str] | None = None  # returns a message for the operator
    # Scan, pair and assign meters from the operator page (supersedes start_pairing).
    pairing: Pairing | None = None
    # Broker link for the operator page: PublisherState.as_dict() plus "alarms".
    broker_state: Callable[[], Mapping[str, Any]] | None = None
    on_settings_changed: Callable[[KioskSettings], None] | None = None  # persist admin edits
    clock: Callable[[], datetime] = utc_now  # aware UTC; injected so tests control time
    # Where each reading is on its way (kader pages): reading id -> "pending" (stored on the
    # kit), "published" (the broker acknowledged it) or "confirmed" (central stored it); ids
    # the outbox does not hold are left out. The gateway passes `Outbox.states`.
    reading_states: Callable[[Sequence[str]], Awaitable[Mapping[str, str]]] | None = None
    # The kader's phone carries the bundles (kiosk/routes_carry.py); the gateway passes its
    # export and receipt calls (gateway.bundles) with its keys.
    carry: Carry | None = None
    # Calibration dates, strip lots, vial ranges and the QC log per device; None: not kept.
    assurance: AssuranceDesk | None = None
