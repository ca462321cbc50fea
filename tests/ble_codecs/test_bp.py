from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ble.bp import (
    BloodPressureFeature,
    BloodPressureMeasurement,
    IntermediateCuffPressure,
    PressureUnit,
    bp_status_names,
    decode_bp_feature,
    decode_bp_measurement,
    decode_bp_measurement_beurer,
    decode_intermediate_cuff_pressure,
    encode_bp_feature,
    encode_bp_measurement,
    encode_bp_measurement_beurer,
    encode_intermediate_cuff_pressure,
)
from drivers.ble.datetime_codec import BleDateTime
from drivers.ble.ieee11073 import Numeric, Special
from drivers.errors import DecodeError, UsageError

from .strategies import attempt, date_times, sfloats, u8, u16

# Field pieces written by hand from PROTOCOLS.md §2.2, with what each must decode to.
MMHG = (
    "78 00 50 00 5d 00",
    (Numeric(120, 0), Numeric(80, 0), Numeric(93, 0)),
)
KPA = (
    "b0 f0 6a f0 7c f0",  # 17.6, 10.6, 12.4 kPa
    (Numeric(176, -1), Numeric(106, -1), Numeric(124, -1)),
)
TIME = ("e9 07 01 0f 0e 1e 2d", BleDateTime(2025, 1, 15, 14, 30, 45))
PULSE = ("48 00", Numeric(72, 0))
USER = ("01", 1)
STATUS = ("25 00", 0x0025)  # body movement, irregular pulse, improper position


@pytest.mark.parametrize(
    "flags", list(range(0x20)), ids=[f"flags_{f:02x}" for f in range(0x20)]
)
def test_bp_measurement_every_flag_combination(flags: int) -> None:
    pressure_hex, pressures = KPA if flags & 0x01 else MMHG
    wire = f"{flags:02x} {pressure_hex}"
    expected_time = expected_pulse = expected_user = expected_status = None
    if flags & 0x02:
        wire += " " + TIME[0]
        expected_time = TIME[1]
    if flags & 0x04:
        wire += " " + PULSE[0]
        expected_pulse = PULSE[1]
    if flags & 0x08:
        wire += " " + USER[0]
        expected_user = USER[1]
    if flags & 0x10:
        wire += " " + STATUS[0]
        expected_status = STATUS[1]
    data = bytes.fromhex(wire)
    expected = BloodPressureMeasurement(
        systolic=pressures[0],
        diastolic=pressures[1],
        mean_arterial_pressure=pressures[2],
        unit=PressureUnit.KPA if flags & 0x01 else PressureUnit.MMHG,
        time_stamp=expected_time,
        pulse_rate=expected_pulse,
        user_id=expected_user,
        status=expected_status,
    )
    assert decode_bp_measurement(data) == expected
    assert decode_bp_measurement(data + b"\xaa\xbb") == expected  # trailing bytes ignored
    assert encode_bp_measurement(expected) == data
    with pytest.raises(DecodeError) as info:
        decode_bp_measurement(data[:-1])
    assert info.value.data == data[:-1]


def test_bp_measurement_full_frame_golden() -> None:
    data = bytes.fromhex("1e 7d 00 52 00 5f 00 ea 07 03 02 07 05 09 41 00 ff 18 00")
    assert decode_bp_measurement(data) == BloodPressureMeasurement(
        systolic=Numeric(125, 0),
        diastolic=Numeric(82, 0),
        mean_arterial_pressure=Numeric(95, 0),
        unit=PressureUnit.MMHG,
        time_stamp=BleDateTime(2026, 3, 2, 7, 5, 9),
        pulse_rate=Numeric(65, 0),
        user_id=255,
        status=0x0018,
    )


def test_bp_measurement_nan_map_and_reserved_flags() -> None:
    data = bytes.fromhex("e0 8c 00 5a 00 ff 07")
    decoded = decode_bp_measurement(data)
    assert decoded == BloodPressureMeasurement(
        systolic=Numeric(140, 0),
        diastolic=Numeric(90, 0),
        mean_arterial_pressure=Numeric(0, 0, Special.NAN),
        reserved_flags=0xE0,
    )
    assert decoded.mean_arterial_pressure.value is None
    assert encode_bp_measurement(decoded) == data


@pytest.mark.parametrize(
    "wire",
    ["", "00", "01 02 03 04 05 06", "03 02 03 04 05 06 07", "1e 78 00 50 00 5d 00"],
)
def test_bp_measurement_short_frames(wire: str) -> None:
    with pytest.raises(DecodeError):
        decode_bp_measurement(bytes.fromhex(wire))


@pytest.mark.parametrize(
    ("status", "names", "pulse_range"),
    [
        (0x0000, set(), 0),
        (0x0001, {"body_movement"}, 0),
        (0x0002, {"cuff_loose"}, 0),
        (0x0004, {"irregular_pulse"}, 0),
        (0x0008, {"pulse_above_range", "pulse_out_of_range"}, 1),
        (0x0010, {"pulse_below_range", "pulse_out_of_range"}, 2),
        (0x0018, {"pulse_range_reserved"}, 3),
        (0x0020, {"improper_position"}, 0),
        (0xFFC0, set(), 0),  # reserved bits are not named
    ],
)
def test_measurement_status_bits(status: int, names: set[str], pulse_range: int) -> None:
    assert bp_status_names(status) == names
    m = BloodPressureMeasurement(Numeric(1, 0), Numeric(1, 0), Numeric(1, 0), status=status)
    assert m.status_names == names
    assert m.pulse_rate_range == pulse_range


def test_no_status_means_no_range() -> None:
    m = BloodPressureMeasurement(Numeric(1, 0), Numeric(1, 0), Numeric(1, 0))
    assert m.pulse_rate_range is None
    assert m.status_names == frozenset()


def test_beurer_frame() -> None:
    # Beurer layout (PROTOCOLS.md §5): flags 0x56, pulse and status big-endian, user byte
    # without flag bit 3. 131/84 mmHg, MAP 0, 2026-03-02 07:05:09, pulse 77, user 2, irregular.
    data = bytes.fromhex("56 83 00 54 00 00 00 ea 07 03 02 07 05 09 00 4d 02 00 04")
    expected = BloodPressureMeasurement(
        systolic=Numeric(131, 0),
        diastolic=Numeric(84, 0),
        mean_arterial_pressure=Numeric(0, 0),
        unit=PressureUnit.MMHG,
        time_stamp=BleDateTime(2026, 3, 2, 7, 5, 9),
        pulse_rate=Numeric(77, 0),
        user_id=2,
        status=0x0004,
        reserved_flags=0x40,
    )
    assert decode_bp_measurement_beurer(data) == expected
    assert expected.status_names == {"irregular_pulse"}
    assert encode_bp_measurement_beurer(expected) == data
    # The standard decoder reads the same frame wrongly, which is why the quirk exists.
    assert decode_bp_measurement(data).pulse_rate != Numeric(77, 0)
    with pytest.raises(DecodeError):
        decode_bp_measurement_beurer(data[:-1])


def test_icp_golden() -> None:
    data = bytes.fromhex("00 64 00 ff 07 ff 07")
    decoded = decode_intermediate_cuff_pressure(data)
    assert decoded == IntermediateCuffPressure(cuff_pressure=Numeric(100, 0))
    assert encode_intermediate_cuff_pressure(decoded) == data


def test_icp_with_zero_unused_fields_and_options() -> None:
    data = bytes.fromhex("0d b0 f0 00 00 00 00 4b 00 03")
    assert decode_intermediate_cuff_pressure(data) == IntermediateCuffPressure(
        cuff_pressure=Numeric(176, -1),
        unit=PressureUnit.KPA,
        pulse_rate=Numeric(75, 0),
        user_id=3,
        unused_diastolic=Numeric(0, 0),
        unused_mean_arterial_pressure=Numeric(0, 0),
    )
    with pytest.raises(DecodeError):
        decode_intermediate_cuff_pressure(data[:-1])


def test_bp_feature() -> None:
    feature = decode_bp_feature(bytes.fromhex("3f 00"))
    assert feature == BloodPressureFeature(0x003F)
    assert feature.names == {
        "body_movement_detection",
        "cuff_fit_detection",
        "irregular_pulse_detection",
        "pulse_rate_range_detection",
        "measurement_position_detection",
        "multiple_bonds",
    }
    assert feature.body_movement_detection
    assert feature.multiple_bonds
    assert decode_bp_feature(bytes.fromhex("04 00 ff")) == BloodPressureFeature(4)
    only_irregular = BloodPressureFeature(4)
    assert only_irregular.irregular_pulse_detection
    assert not only_irregular.cuff_fit_detection
    assert not only_irregular.pulse_rate_range_detection
    assert not only_irregular.measurement_position_detection
    assert encode_bp_feature(feature) == bytes.fromhex("3f 00")
    with pytest.raises(DecodeError):
        decode_bp_feature(b"\x01")


def test_encoder_rejects_misuse() -> None:
    base = BloodPressureMeasurement(Numeric(1, 0), Numeric(1, 0), Numeric(1, 0))
    with pytest.raises(UsageError):
        encode_bp_measurement(
            BloodPressureMeasurement(base.systolic, base.diastolic, base.systolic,
                                     reserved_flags=0x01)
        )
    with pytest.raises(UsageError):
        encode_bp_measurement(
            BloodPressureMeasurement(base.systolic, base.diastolic, base.systolic, user_id=256)
        )
    with pytest.raises(UsageError):
        encode_bp_measurement(
            BloodPressureMeasurement(base.systolic, base.diastolic, base.systolic, status=1 << 16)
        )


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(st.binary(max_size=24))
def test_bp_codecs_any_bytes(data: bytes) -> None:
    measurement = attempt(decode_bp_measurement, data)
    if isinstance(measurement, DecodeError):
        assert measurement.data == data
    else:
        assert data.startswith(encode_bp_measurement(measurement))
    icp = attempt(decode_intermediate_cuff_pressure, data)
    if isinstance(icp, DecodeError):
        assert icp.data == data
    else:
        assert data.startswith(encode_intermediate_cuff_pressure(icp))
    beurer = attempt(decode_bp_measurement_beurer, data)
    if not isinstance(beurer, DecodeError):
        assert decode_bp_measurement_beurer(encode_bp_measurement_beurer(beurer)) == beurer
    feature = attempt(decode_bp_feature, data)
    if isinstance(feature, DecodeError):
        assert len(data) < 2
    else:
        assert encode_bp_feature(feature) == data[:2]


measurements = st.builds(
    BloodPressureMeasurement,
    systolic=sfloats,
    diastolic=sfloats,
    mean_arterial_pressure=sfloats,
    unit=st.sampled_from(PressureUnit),
    time_stamp=st.none() | date_times,
    pulse_rate=st.none() | sfloats,
    user_id=st.none() | u8,
    status=st.none() | u16,
    reserved_flags=st.sampled_from([0, 0x20, 0x40, 0x80, 0xE0]),
)


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(measurements)
def test_bp_measurement_object_round_trip(m: BloodPressureMeasurement) -> None:
    assert decode_bp_measurement(encode_bp_measurement(m)) == m


@settings(deadline=None)  # shared CI cores: no timing flakes
@given(measurements.filter(lambda m: m.user_id is not None))
def test_beurer_object_round_trip(m: BloodPressureMeasurement) -> None:
    assert decode_bp_measurement_beurer(encode_bp_measurement_beurer(m)) == m

