"""Fleet alarm rules: what a person at Dinkes must look at, from a gateway's latest status.

Pure: the caller passes the gateway's snapshot and "now" (from an injected clock), so the
same rules serve the monitor (which records raised/cleared events) and the page (which shows
time-based alarms such as "not seen for N minutes" without anyone having to sweep the table).
Each alarm carries a short stable code, a severity and a text key; the texts themselves are
Bahasa Indonesia first, English second, in `TEXTS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum


class Severity(IntEnum):
    """Ordered so the page can sort the worst first."""

    INFO = 1
    WARNING = 2
    CRITICAL = 3


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Configurable limits. Days, not hours, for devices and kits: a kader's kit may be away
    from any network for a working week without anything being wrong."""

    offline_after_s: float = 5 * 60.0
    device_silent_days: float = 7.0
    kit_unsynced_days: float = 3.0


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    name: str
    last_seen: float | None  # epoch seconds, from the gateway's status
    last_error: str | None
    # Kit assurance (core/assurance.py): the device is out of policy, its readings flagged.
    out_of_policy: bool = False


@dataclass(frozen=True, slots=True)
class GatewaySnapshot:
    """What the rules need of one gateway; built from the fleet table or a parsed status."""

    gateway_id: str
    state: str  # "online" | "offline" (the Last Will or a clean shutdown)
    last_seen: float  # epoch seconds central last heard from it
    reported_alarms: Sequence[str]  # as the gateway listed them ("outbox_full", ...)
    oldest_unconfirmed_age_s: float | None
    clock_trusted: bool | None  # None: the gateway did not say
    devices: Sequence[DeviceSnapshot] = ()


@dataclass(frozen=True, slots=True, order=True)
class Alarm:
    code: str  # stable, short, for filters and events: "offline", "device_silent:<name>"
    severity: Severity
    text_key: str  # key into TEXTS

    @property
    def rule(self) -> str:
        """The code without its subject (a device name), for filtering by kind of alarm."""
        return self.code.split(":", 1)[0]


# text key -> (Bahasa Indonesia, English)
TEXTS: Mapping[str, tuple[str, str]] = {
    "fleet.alarm.offline": ("Gateway tidak terhubung", "Gateway offline"),
    "fleet.alarm.not_seen": ("Gateway lama tidak terdengar", "Gateway not heard from"),
    "fleet.alarm.outbox_full": ("Antrean data penuh", "Outbox full"),
    "fleet.alarm.storage_error": ("Penyimpanan gateway bermasalah", "Gateway storage error"),
    "fleet.alarm.clock_untrusted": ("Jam gateway tidak dapat dipercaya", "Gateway clock untrusted"),
    "fleet.alarm.device_silent": ("Alat lama tidak terlihat", "Device not seen for days"),
    "fleet.alarm.device_error": ("Alat melaporkan galat", "Device reports an error"),
    "fleet.alarm.kit_unsynced": ("Data kit lama belum terkirim", "Kit not synced for days"),
    "fleet.alarm.gateway_reported": ("Gateway melaporkan masalah", "Gateway reports a problem"),
    "fleet.alarm.device_check": ("Alat perlu diperiksa", "Device needs checking"),
}

_DAY_S = 86400.0
DEFAULT_THRESHOLDS = Thresholds()


def evaluate(
    gw: GatewaySnapshot, now: float, limits: Thresholds = DEFAULT_THRESHOLDS
) -> list[Alarm]:
    """The alarms that hold for `gw` at `now` (epoch seconds), sorted worst first."""
    out: set[Alarm] = set()
    if gw.state == "offline":
        out.add(Alarm("offline", Severity.CRITICAL, "fleet.alarm.offline"))
    elif now - gw.last_seen >= limits.offline_after_s:
        # The Last Will cannot come when the broker itself lost the gateway's session state
        # (a broker restart without persistence): silence is the only sign left.
        out.add(Alarm("not_seen", Severity.CRITICAL, "fleet.alarm.not_seen"))
    for reported in gw.reported_alarms:
        out.add(_reported(reported))
    if gw.clock_trusted is False:
        out.add(Alarm("clock_untrusted", Severity.WARNING, "fleet.alarm.clock_untrusted"))
    age = gw.oldest_unconfirmed_age_s
    if age is not None:
        # The age was the gateway's when it last spoke; a kit out of reach keeps ageing.
        age += max(0.0, now - gw.last_seen)
    if age is not None and age >= limits.kit_unsynced_days * _DAY_S:
        out.add(Alarm("kit_unsynced", Severity.WARNING, "fleet.alarm.kit_unsynced"))
    for device in gw.devices:
        if device.last_seen is not None and (
            now - device.last_seen >= limits.device_silent_days * _DAY_S
        ):
            out.add(
                Alarm(f"device_silent:{device.name}", Severity.WARNING, "fleet.alarm.device_silent")
            )
        if device.last_error:
            out.add(Alarm(f"device_error:{device.name}", Severity.INFO, "fleet.alarm.device_error"))
        if device.out_of_policy:
            # Its readings are still stored, but nobody should act on them until it is fixed.
            out.add(
                Alarm(f"device_check:{device.name}", Severity.WARNING, "fleet.alarm.device_check")
            )
    return sorted(out, key=lambda a: (-a.severity, a.code))


def _reported(text: str) -> Alarm:
    # The gateway lists "outbox_full", "storage_error: <detail>", "status_file: <detail>";
    # the detail may name a path, so only the kind becomes the code.
    kind = text.split(":", 1)[0].strip()
    if kind == "outbox_full":
        return Alarm("outbox_full", Severity.CRITICAL, "fleet.alarm.outbox_full")
    if kind == "storage_error":
        return Alarm("storage_error", Severity.CRITICAL, "fleet.alarm.storage_error")
    if kind == "clock_untrusted":
        return Alarm("clock_untrusted", Severity.WARNING, "fleet.alarm.clock_untrusted")
    safe = "".join(c for c in kind if c.isalnum() or c == "_")[:40] or "unknown"
    return Alarm(f"reported:{safe}", Severity.WARNING, "fleet.alarm.gateway_reported")


def text(key: str, lang: str = "id") -> str:
    """The alarm text in `lang` ("id" or "en"); Bahasa Indonesia for anything else."""
    indonesian, english = TEXTS[key]
    return english if lang == "en" else indonesian
