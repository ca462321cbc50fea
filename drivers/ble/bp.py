"""Blood Pressure Service (0x1810): Measurement 0x2A35, Intermediate Cuff Pressure 0x2A36 and
Feature 0x2A49 (PROTOCOLS.md §2).

Presence of every optional field is taken from the flags; the encoder derives the flags from
which fields are set, plus `reserved_flags` (bits 5-7) so that any frame round-trips. The
Beurer BM48/59/85/ELITE900 variant (pulse and status big-endian, a user-ID byte that is sent
without flag bit 3) has its own decode/encode pair here so the quirk registry and the simulator
share one definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from drivers.ble.datetime_codec import (
    DATE_TIME_LEN,
    BleDateTime,
    decode_date_time,
    encode_date_time,
)
from drivers.ble.ieee11073 import NAN, Numeric, decode_sfloat, encode_sfloat
from drivers.errors import DecodeError, UsageError

FLAG_KPA = 0x01
FLAG_TIME_STAMP = 0x02
FLAG_PULSE_RATE = 0x04
FLAG_USER_ID = 0x08
FLAG_MEASUREMENT_STATUS = 0x10
FLAGS_RESERVED = 0xE0

USER_ID_UNKNOWN = 255

MIN_LENGTH = 7

# Measurement Status bits (§2.2)
STATUS_BODY_MOVEMENT = 0x0001
STATUS_CUFF_LOOSE = 0x0002
STATUS_IRREGULAR_PULSE = 0x0004
STATUS_PULSE_RANGE_MASK = 0x0018
STATUS_IMPROPER_POSITION = 0x0020

# Feature bits (§2.4)
FEATURE_NAMES = {
    0x0001: "body_movement_detection",
    0x0002: "cuff_fit_detection",
    0x0004: "irregular_pulse_detection",
    0x0008: "pulse_rate_range_detection",
    0x0010: "measurement_position_detection",
    0x0020: "multiple_bonds",
}


class PressureUnit(StrEnum):
    MMHG = "mmHg"
    KPA = "kPa"


def bp_status_names(status: int) -> frozenset[str]:
    """Lowercase names for the set Measurement Status bits (reserved bits are not named).

    Pulse-rate range 1/2 gives "pulse_above_range"/"pulse_below_range" *and* the summary
    "pulse_out_of_range" the reading model uses; range 3 (reserved) gives only
    "pulse_range_reserved".
    """
    names: set[str] = set()
    if status & STATUS_BODY_MOVEMENT:
        names.add("body_movement")
    if status & STATUS_CUFF_LOOSE:
        names.add("cuff_loose")
    if status & STATUS_IRREGULAR_PULSE:
        names.add("irregular_pulse")
    pulse_range = (status & STATUS_PULSE_RANGE_MASK) >> 3
    if pulse_range == 1:
        names.update(("pulse_above_range", "pulse_out_of_range"))
    elif pulse_range == 2:
        names.update(("pulse_below_range", "pulse_out_of_range"))
    elif pulse_range == 3:
        names.add("pulse_range_reserved")
    if status & STATUS_IMPROPER_POSITION:
        names.add("improper_position")
    return frozenset(names)


def bp_feature_names(feature: int) -> frozenset[str]:
    return frozenset(name for bit, name in FEATURE_NAMES.items() if feature & bit)


@dataclass(frozen=True, slots=True)
class BloodPressureMeasurement:
    """0x2A35. Pressures are in `unit`; the pulse is always beats/min."""

    systolic: Numeric
    diastolic: Numeric
    mean_arterial_pressure: Numeric
    unit: PressureUnit = PressureUnit.MMHG
    time_stamp: BleDateTime | None = None
    pulse_rate: Numeric | None = None
    user_id: int | None = None  # 255 = unknown user (kept as sent)
    status: int | None = None  # Measurement Status bits, see bp_status_names()
    reserved_flags: int = 0  # flag bits 5-7 as sent

    @property
    def status_names(self) -> frozenset[str]:
        return bp_status_names(self.status or 0)

    @property
    def pulse_rate_range(self) -> int | None:
        """0 in range, 1 above, 2 below, 3 reserved; None when no status was sent."""
        if self.status is None:
            return None
        return (self.status & STATUS_PULSE_RANGE_MASK) >> 3


@dataclass(frozen=True, slots=True)
class IntermediateCuffPressure:
    """0x2A36: same layout as 0x2A35; the systolic slot carries the current cuff pressure.

    The diastolic and MAP slots are unused (NaN per BLS, 0 on some devices); they are kept as
    sent only so that a frame round-trips.
    """

    cuff_pressure: Numeric
    unit: PressureUnit = PressureUnit.MMHG
    time_stamp: BleDateTime | None = None
    pulse_rate: Numeric | None = None
    user_id: int | None = None
    status: int | None = None
    reserved_flags: int = 0
    unused_diastolic: Numeric = NAN
    unused_mean_arterial_pressure: Numeric = NAN

    @property
    def status_names(self) -> frozenset[str]:
        # The spec gives 0x2A36 the same Measurement Status field as 0x2A35, so one namer.
        return bp_status_names(self.status or 0)


@dataclass(frozen=True, slots=True)
class BloodPressureFeature:
    """0x2A49 (uint16 bits): which Measurement Status bits the device can raise."""

    raw: int

    @property
    def names(self) -> frozenset[str]:
        return bp_feature_names(self.raw)

    @property
    def body_movement_detection(self) -> bool:
        return bool(self.raw & 0x0001)

    @property
    def cuff_fit_detection(self) -> bool:
        return bool(self.raw & 0x0002)

    @property
    def irregular_pulse_detection(self) -> bool:
        return bool(self.raw & 0x0004)

    @property
    def pulse_rate_range_detection(self) -> bool:
        return bool(self.raw & 0x0008)

    @property
    def measurement_position_detection(self) -> bool:
        return bool(self.raw & 0x0010)

    @property
    def multiple_bonds(self) -> bool:
        return bool(self.raw & 0x0020)


@dataclass(frozen=True, slots=True)
class _Frame:
    """The common 0x2A35/0x2A36 layout, before the two meanings are told apart."""

    flags: int
    first: Numeric
    second: Numeric
    third: Numeric
    time_stamp: BleDateTime | None
    pulse_rate: Numeric | None
    user_id: int | None
    status: int | None


def _decode_frame(
    data: bytes, what: str, *, big_endian_tail: bool = False, user_id_always: bool = False
) -> _Frame:
    data = bytes(data)
    if not data:
        raise DecodeError(f"{what}: empty frame", data, 0)
    flags = data[0]
    has_user = bool(flags & FLAG_USER_ID) or user_id_always
    needed = (
        MIN_LENGTH
        + (DATE_TIME_LEN if flags & FLAG_TIME_STAMP else 0)
        + (2 if flags & FLAG_PULSE_RATE else 0)
        + (1 if has_user else 0)
        + (2 if flags & FLAG_MEASUREMENT_STATUS else 0)
    )
    if len(data) < needed:
        raise DecodeError(
            f"{what}: flags 0x{flags:02x} need {needed} bytes, got {len(data)}", data, len(data)
        )
    first = decode_sfloat(data, 1)
    second = decode_sfloat(data, 3)
    third = decode_sfloat(data, 5)
    offset = MIN_LENGTH
    time_stamp = None
    if flags & FLAG_TIME_STAMP:
        time_stamp = decode_date_time(data, offset)
        offset += DATE_TIME_LEN
    pulse = None
    if flags & FLAG_PULSE_RATE:
        pulse = decode_sfloat(data, offset, big_endian=big_endian_tail)
        offset += 2
    user_id = None
    if has_user:
        user_id = data[offset]
        offset += 1
    status = None
    if flags & FLAG_MEASUREMENT_STATUS:
        status = int.from_bytes(data[offset : offset + 2], "big" if big_endian_tail else "little")
    return _Frame(flags, first, second, third, time_stamp, pulse, user_id, status)


def _encode_frame(
    frame: _Frame, *, big_endian_tail: bool = False, user_id_always: bool = False
) -> bytes:
    if not 0 <= frame.flags <= 0xFF:
        raise UsageError(f"flags out of byte range: {frame.flags}")
    out = bytearray([frame.flags])
    out += encode_sfloat(frame.first) + encode_sfloat(frame.second) + encode_sfloat(frame.third)
    if frame.time_stamp is not None:
        out += encode_date_time(frame.time_stamp)
    if frame.pulse_rate is not None:
        out += encode_sfloat(frame.pulse_rate, big_endian=big_endian_tail)
    if frame.user_id is not None or user_id_always:
        user = USER_ID_UNKNOWN if frame.user_id is None else frame.user_id
        if not 0 <= user <= 0xFF:
            raise UsageError(f"user id out of byte range: {user}")
        out.append(user)
    if frame.status is not None:
        if not 0 <= frame.status <= 0xFFFF:
            raise UsageError(f"measurement status out of 16-bit range: {frame.status}")
        out += frame.status.to_bytes(2, "big" if big_endian_tail else "little")
    return bytes(out)


def _flags_for(
    unit: PressureUnit,
    time_stamp: BleDateTime | None,
    pulse_rate: Numeric | None,
    user_id: int | None,
    status: int | None,
    reserved_flags: int,
) -> int:
    if reserved_flags & ~FLAGS_RESERVED:
        raise UsageError(f"reserved_flags may only use bits 5-7: 0x{reserved_flags:02x}")
    return (
        (FLAG_KPA if unit is PressureUnit.KPA else 0)
        | (FLAG_TIME_STAMP if time_stamp is not None else 0)
        | (FLAG_PULSE_RATE if pulse_rate is not None else 0)
        | (FLAG_USER_ID if user_id is not None else 0)
        | (FLAG_MEASUREMENT_STATUS if status is not None else 0)
        | reserved_flags
    )


def _unit(flags: int) -> PressureUnit:
    return PressureUnit.KPA if flags & FLAG_KPA else PressureUnit.MMHG


def decode_bp_measurement(data: bytes) -> BloodPressureMeasurement:
    frame = _decode_frame(data, "Blood Pressure Measurement")
    return BloodPressureMeasurement(
        systolic=frame.first,
        diastolic=frame.second,
        mean_arterial_pressure=frame.third,
        unit=_unit(frame.flags),
        time_stamp=frame.time_stamp,
        pulse_rate=frame.pulse_rate,
        user_id=frame.user_id,
        status=frame.status,
        reserved_flags=frame.flags & FLAGS_RESERVED,
    )


def encode_bp_measurement(m: BloodPressureMeasurement) -> bytes:
    flags = _flags_for(m.unit, m.time_stamp, m.pulse_rate, m.user_id, m.status, m.reserved_flags)
    return _encode_frame(
        _Frame(flags, m.systolic, m.diastolic, m.mean_arterial_pressure, m.time_stamp,
               m.pulse_rate, m.user_id, m.status)
    )


def decode_bp_measurement_beurer(data: bytes) -> BloodPressureMeasurement:
    """Beurer BM48/59/85/ELITE900 0x2A35: pulse and status big-endian, user byte always sent.

    Real frames carry flags 0x56 (bit 3 clear, reserved bit 6 set); the user byte is read
    whatever bit 3 says, so `user_id` is always set (bit 3 is not recorded separately).
    """
    frame = _decode_frame(
        data, "Blood Pressure Measurement (Beurer)", big_endian_tail=True, user_id_always=True
    )
    return BloodPressureMeasurement(
        systolic=frame.first,
        diastolic=frame.second,
        mean_arterial_pressure=frame.third,
        unit=_unit(frame.flags),
        time_stamp=frame.time_stamp,
        pulse_rate=frame.pulse_rate,
        user_id=frame.user_id,
        status=frame.status,
        reserved_flags=frame.flags & FLAGS_RESERVED,
    )


def encode_bp_measurement_beurer(m: BloodPressureMeasurement) -> bytes:
    """What a Beurer monitor sends for `m` (flag bit 3 clear even though the user byte follows)."""
    flags = _flags_for(m.unit, m.time_stamp, m.pulse_rate, None, m.status, m.reserved_flags)
    return _encode_frame(
        _Frame(flags, m.systolic, m.diastolic, m.mean_arterial_pressure, m.time_stamp,
               m.pulse_rate, m.user_id, m.status),
        big_endian_tail=True,
        user_id_always=True,
    )


def decode_intermediate_cuff_pressure(data: bytes) -> IntermediateCuffPressure:
    frame = _decode_frame(data, "Intermediate Cuff Pressure")
    return IntermediateCuffPressure(
        cuff_pressure=frame.first,
        unit=_unit(frame.flags),
        time_stamp=frame.time_stamp,
        pulse_rate=frame.pulse_rate,
        user_id=frame.user_id,
        status=frame.status,
        reserved_flags=frame.flags & FLAGS_RESERVED,
        unused_diastolic=frame.second,
        unused_mean_arterial_pressure=frame.third,
    )


def encode_intermediate_cuff_pressure(m: IntermediateCuffPressure) -> bytes:
    flags = _flags_for(m.unit, m.time_stamp, m.pulse_rate, m.user_id, m.status, m.reserved_flags)
    return _encode_frame(
        _Frame(flags, m.cuff_pressure, m.unused_diastolic, m.unused_mean_arterial_pressure,
               m.time_stamp, m.pulse_rate, m.user_id, m.status)
    )


def decode_bp_feature(data: bytes) -> BloodPressureFeature:
    data = bytes(data)
    if len(data) < 2:
        raise DecodeError(f"Blood Pressure Feature needs 2 bytes, got {len(data)}", data, 0)
    return BloodPressureFeature(int.from_bytes(data[0:2], "little"))


def encode_bp_feature(feature: BloodPressureFeature) -> bytes:
    if not 0 <= feature.raw <= 0xFFFF:
        raise UsageError(f"feature out of 16-bit range: {feature.raw}")
    return feature.raw.to_bytes(2, "little")
