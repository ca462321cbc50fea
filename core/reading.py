"""The reading model: one measurement a resident took, as the gateway carries it.

A `Reading` is frozen and carries everything central needs to build a FHIR Observation later:
the device identity, the device's own record key, the time as the device said it and as the
gateway corrected it (with how far that time can be trusted), values in canonical units with
the original unit kept, flags, and the subject as a pseudonym only.

The reading id is derived, never random, whenever the device has its own record key: re-reading
a meter's memory must give the same id so the outbox and central de-duplicate it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from math import isfinite

SCHEMA_READING = "gempita.reading/2"  # what gateways send
SCHEMA_READING_V1 = "gempita.reading/1"
# Central accepts every version a gateway in the field may still send (broker/TOPICS.md).
SCHEMA_READINGS = (SCHEMA_READING_V1, SCHEMA_READING)

# Namespace for uuid5 reading ids; fixed forever (changing it would change every id).
_ID_NAMESPACE = uuid.UUID("5b3f8f3e-2f0a-4c59-9d8e-6a1c7f0e4b21")


class Kind(StrEnum):
    BLOOD_PRESSURE = "blood_pressure"
    GLUCOSE = "glucose"


class TimeQuality(StrEnum):
    """How far `measured_at` can be trusted."""

    SYNCED = "synced"  # device clock was set or checked against the gateway's synced clock
    DEVICE_CLOCK = "device_clock"  # device clock, offset measured and applied
    GATEWAY_RECEIVE = "gateway_receive"  # no usable device time: stamped when received
    UNKNOWN = "unknown"  # device time implausible and no receive time that fits


class Transport(StrEnum):
    BLE = "ble"
    SERIAL = "serial"
    SIMULATED = "simulated"
    KIOSK = "kiosk"  # typed in by a kader (manual entry)


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """Who produced a reading. `id` is stable per physical device."""

    transport: Transport
    address: str  # BLE address, serial port path, or simulator name
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None

    @property
    def id(self) -> str:
        # Prefer the serial number: a meter moved to another port or kiosk stays the same device.
        if self.serial:
            maker = (self.manufacturer or "unknown").strip().lower().replace(" ", "-")
            return f"{maker}:{self.serial.strip()}"
        return f"{self.transport.value}:{self.address.strip().upper()}"


@dataclass(frozen=True, slots=True)
class BloodPressure:
    systolic_mmhg: float | None
    diastolic_mmhg: float | None
    map_mmhg: float | None
    pulse_bpm: float | None
    original_unit: str = "mmHg"  # "mmHg" or "kPa"
    # Flags such as "body_movement", "cuff_loose", "irregular_pulse", "pulse_out_of_range",
    # "improper_position"; sorted on output.
    status: frozenset[str] = field(default_factory=frozenset)
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class Glucose:
    glucose_mgdl: float | None  # None when HI/LO or not given
    original_unit: str = "mg/dL"  # "mg/dL" (kg/L on BLE) or "mmol/L" (mol/L on BLE)
    original_value: float | None = None
    sample_type: str | None = None  # e.g. "capillary_whole_blood", "control_solution"
    sample_location: str | None = None  # e.g. "finger"
    meal: str | None = None  # "preprandial", "postprandial", "fasting", "casual", "bedtime"
    control_solution: bool = False
    hi: bool = False
    lo: bool = False
    sensor_status: frozenset[str] = field(default_factory=frozenset)


Values = BloodPressure | Glucose


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


# Lower edge of each band, in years, and its label. The edges are the programme's own: 15
# (hypertension screening starts, the kiosk's youngest resident), 40 (diabetes screening for
# everyone) and 60 (elderly); every band is a union of the five-year bands population figures
# are published in, so coverage can be divided by a target population (broker/TOPICS.md).
AGE_BANDS: tuple[tuple[int, str], ...] = (
    (0, "<15"),
    (15, "15-19"),
    (20, "20-29"),
    (30, "30-39"),
    (40, "40-49"),
    (50, "50-59"),
    (60, "60-69"),
    (70, "70+"),
)
AGE_BAND_LABELS = frozenset(label for _edge, label in AGE_BANDS)


def age_band(age_years: int) -> str:
    """The band of a completed age in years."""
    if age_years < 0:
        raise ValueError(f"an age cannot be negative: {age_years}")
    label = AGE_BANDS[0][1]
    for edge, name in AGE_BANDS:
        if age_years >= edge:
            label = name
    return label


def is_region(text: str) -> bool:
    """A NIK's first six digits: province, regency/city and kecamatan codes, ASCII digits."""
    return len(text) == 6 and text.isascii() and text.isdigit()


@dataclass(frozen=True, slots=True)
class Subject:
    """The resident, as a pseudonym. The NIK is never here in clear."""

    pseudonym: str  # HMAC of the NIK with the programme key (hex)
    sealed_nik: str | None = None  # NIK sealed to central's public key (base64), or None
    consent_version: str | None = None
    consent_at: datetime | None = None
    session_id: str | None = None
    performer: str = "self"  # "self" (resident at a kiosk) or "kader:<id>"
    # What central's screening cascade counts by, and nothing finer: a birth date or more of
    # the NIK would let a reading be tied to a person without the programme key.
    region: str | None = None  # the NIK's first six digits (PPKKCC)
    sex: Sex | None = None
    age_band: str | None = None  # one of AGE_BANDS, on the day of measurement

    def __post_init__(self) -> None:
        if self.region is not None and not is_region(self.region):
            raise ValueError("subject region must be six ASCII digits")
        if self.age_band is not None and self.age_band not in AGE_BAND_LABELS:
            raise ValueError("subject age_band must be one of AGE_BANDS")


class AssuranceStatus(StrEnum):
    """Whether the device that took a reading was within the kit's assurance policy."""

    OK = "ok"
    OUT_OF_POLICY = "out_of_policy"
    UNKNOWN = "unknown"


ASSURANCE_REASONS_MAX = 16
ASSURANCE_REASON_MAX_CHARS = 40


@dataclass(frozen=True, slots=True)
class Assurance:
    """The device's fitness when the reading was taken; reasons are short codes, no values."""

    status: AssuranceStatus
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.reasons) > ASSURANCE_REASONS_MAX or len(set(self.reasons)) != len(self.reasons):
            raise ValueError(f"assurance reasons must be at most {ASSURANCE_REASONS_MAX}, unique")
        if not all(is_reason_code(reason) for reason in self.reasons):
            raise ValueError("assurance reasons must be short codes: a-z, 0-9 and '_'")


def is_reason_code(text: str) -> bool:
    return (
        1 <= len(text) <= ASSURANCE_REASON_MAX_CHARS
        and text.isascii()
        and all(ch.islower() or ch.isdigit() or ch == "_" for ch in text)
    )


@dataclass(frozen=True, slots=True)
class Reading:
    id: str
    kind: Kind
    gateway_id: str
    device: DeviceIdentity
    record_key: str | None
    measured_at: datetime  # UTC, corrected
    time_quality: TimeQuality
    values: Values
    device_time: str | None = None  # the device's own timestamp, as it said it (ISO, no zone)
    clock_offset_s: float | None = None  # device clock minus gateway UTC clock, if measured
    received_at: datetime | None = None  # when the gateway received it (UTC)
    site_id: str | None = None
    subject: Subject | None = None
    bound: bool = False  # True once a kiosk/kader session claimed it (or said it is unbound)
    assurance: Assurance | None = None  # None until the kit's assurance policy judges devices

    def __post_init__(self) -> None:
        if self.measured_at.tzinfo is None or self.measured_at.utcoffset() != UTC.utcoffset(None):
            raise ValueError("measured_at must be an aware UTC datetime")
        expected = Kind.BLOOD_PRESSURE if isinstance(self.values, BloodPressure) else Kind.GLUCOSE
        if self.kind is not expected:
            raise ValueError(f"kind {self.kind} does not match values {type(self.values).__name__}")
        v = self.values
        numbers = (
            (v.systolic_mmhg, v.diastolic_mmhg, v.map_mmhg, v.pulse_bpm)
            if isinstance(v, BloodPressure)
            else (v.glucose_mgdl, v.original_value)
        )
        if not all(x is None or isfinite(x) for x in (*numbers, self.clock_offset_s)):
            # A special SFLOAT decodes to None; NaN or infinity here is a driver bug and must
            # not reach central as JSON null.
            raise ValueError(f"reading values must be finite numbers: {v!r}")


def reading_id(
    device: DeviceIdentity, record_key: str | None, *, fallback: str | None = None
) -> str:
    """Stable id for a reading.

    With a device record key (glucose sequence number, meter memory index + time + value) the id
    is a uuid5 of device id and key, so reading the same memory twice gives the same id. Without
    one, `fallback` must be something the caller keeps stable across retries (e.g. the device's
    timestamp and values); a fresh random id is only acceptable for readings that are committed
    before anything can retry them.
    """
    if record_key is not None:
        return str(uuid.uuid5(_ID_NAMESPACE, f"{device.id}|{record_key}"))
    if fallback is not None:
        return str(uuid.uuid5(_ID_NAMESPACE, f"{device.id}|~{fallback}"))
    return str(uuid.uuid4())


def values_fingerprint(values: Values) -> str:
    """Short digest of the values, for natural keys of devices without record numbers."""
    return hashlib.sha256(repr(values).encode()).hexdigest()[:16]
