from __future__ import annotations

import pytest

from drivers.ble import quirks, uuids
from drivers.ble.bp import decode_bp_measurement_beurer
from drivers.ble.datetime_codec import BleDateTime
from drivers.ble.glucose import GlucoseContext, GlucoseMeasurement
from drivers.ble.ieee11073 import Numeric, Special
from drivers.ble.quirks import (
    decode_isens_time,
    drop_reason,
    hi_lo,
    isens_get_time_command,
    isens_set_time_command,
    match_quirk,
    meal_name,
    quirk_by_name,
)
from drivers.errors import DecodeError, UsageError

GLS = uuids.uuid_str(uuids.GLUCOSE_SERVICE)
BPS = uuids.uuid_str(uuids.BLOOD_PRESSURE_SERVICE)


@pytest.mark.parametrize(
    ("name", "manufacturer", "model", "services", "expected"),
    [
        ("BM85", None, None, [BPS], "beurer_bm"),
        ("bm 59", None, None, [], "beurer_bm"),
        ("ELITE900", None, None, [], "beurer_bm"),
        (None, "Beurer GmbH", "BM48", [BPS], "beurer_bm"),
        ("A&D_UA-651BLE_A1B2C3", None, None, [BPS], "and_ua651"),
        (None, None, None, [BPS, uuids.AND_CUSTOM_SERVICE.upper()], "and_ua651"),
        (None, "A&D Medical", "UA-651BLE", [], "and_ua651"),
        ("CareSens N Premier", None, None, [GLS], "isens_caresens"),
        ("ReliOn 2395 1A2B", None, None, [], "isens_caresens"),
        (None, "i-SENS, Inc.", "CareSens", [GLS], "isens_caresens"),
        ("Meter", None, None, ["0x1808", "fff0"], "isens_caresens"),
        (None, None, None, [uuids.ISENS_TIME_SERVICE_V15], "isens_caresens"),
        ("TNG VOICE 1234", None, None, [GLS], "taidoc_fora"),
        (None, "TaiDoc Technology", None, [GLS], "taidoc_fora"),
        (None, None, "Model Number", ["1808"], "taidoc_fora"),
        ("meter+06123456", None, None, [GLS], "roche_accu_chek"),
        (None, "Roche", "Accu-Chek Guide", [GLS], "roche_accu_chek"),
        ("Contour7830H6123456", None, None, [GLS], "ascensia_contour"),
        (None, "Ascensia Diabetes Care", None, [], "ascensia_contour"),
    ],
)
def test_match_quirk(
    name: str | None,
    manufacturer: str | None,
    model: str | None,
    services: list[str],
    expected: str,
) -> None:
    quirk = match_quirk(name, manufacturer, model, services)
    assert quirk is not None
    assert quirk.name == expected


@pytest.mark.parametrize(
    ("name", "manufacturer", "model", "services"),
    [
        ("BLESmart_0000015A", "OMRON HEALTHCARE", "BP7150", [BPS]),
        (None, None, None, []),
        ("", "", "", []),
        ("Microlife BP", None, None, ["fff0"]),  # FFF0 alone is not i-SENS
        (None, None, "Model Number", [BPS]),  # the placeholder only points to Fora on GLS
        (None, "Beurer", "BM57", [BPS]),  # other Beurer models are standard
        ("XBM85", None, None, []),
    ],
)
def test_standard_devices_match_nothing(
    name: str | None, manufacturer: str | None, model: str | None, services: list[str]
) -> None:
    assert match_quirk(name, manufacturer, model, services) is None


def test_quirk_by_name() -> None:
    assert quirk_by_name("beurer_bm") is quirks.BEURER
    assert quirk_by_name(" ROCHE_ACCU_CHEK ") is quirks.ROCHE
    with pytest.raises(UsageError, match="known quirks: and_ua651"):
        quirk_by_name("omron")


def test_quirk_data() -> None:
    assert quirks.BEURER.decode_bp is decode_bp_measurement_beurer
    assert quirks.BEURER.subscribe_delay_s == pytest.approx(0.1)
    assert quirks.AND_UA651.send_all_command == bytes.fromhex("02 00 e1")
    assert quirks.AND_UA651.send_all_char == "233bf001-5a34-1b6d-975c-000d5690abe4"
    assert quirks.AND_UA651.set_time_char == "00002a08-0000-1000-8000-00805f9b34fb"
    assert quirks.AND_UA651.set_time_service == "00001810-0000-1000-8000-00805f9b34fb"
    assert quirks.AND_UA651.disconnects_after_send
    assert quirks.ROCHE.requires_passkey
    assert quirks.TAIDOC_FORA.sequence_unreliable
    assert not quirks.ISENS.sequence_unreliable
    assert quirks.ISENS.custom_time_char[0] == "c4dea3bc-5a9d-11e9-8647-d663bd873d93"
    assert quirks.ISENS.custom_time_char[1] == "0000fff1-0000-1000-8000-00805f9b34fb"


def test_clean_model() -> None:
    assert quirks.TAIDOC_FORA.clean_model("Model Number") is None
    assert quirks.TAIDOC_FORA.clean_model(" TD-4206 ") == "TD-4206"
    assert quirks.TAIDOC_FORA.clean_model(None) is None
    assert quirks.BEURER.clean_model("Model Number") == "Model Number"


def _record(**changes: object) -> GlucoseMeasurement:
    fields: dict[str, object] = {
        "sequence_number": 3,
        "base_time": BleDateTime(2026, 5, 1, 8, 0, 0),
        "concentration": Numeric(98, -5),
        "sample_type": 1,
        "sample_location": 1,
    }
    fields.update(changes)
    return GlucoseMeasurement(**fields)  # type: ignore[arg-type]


def test_isens_time_commands() -> None:
    assert isens_get_time_command() == bytes.fromhex("c0 03 01 00 00 00 00 00 00 00 00")
    assert isens_set_time_command(BleDateTime(2026, 11, 27, 21, 5, 9)) == bytes.fromhex(
        "c0 03 01 00 ea 07 0b 1b 15 05 09"
    )
    assert decode_isens_time(bytes.fromhex("c0 03 01 00 ea 07 0b 1b 15 05 09")) == BleDateTime(
        2026, 11, 27, 21, 5, 9
    )
    with pytest.raises(DecodeError):
        decode_isens_time(bytes.fromhex("c0 03 01 00 ea 07 0b 1b 15 05"))


def test_isens_month_13_fix() -> None:
    broken = _record(base_time=BleDateTime(2025, 13, 2, 0, 10, 0))
    fixed = quirks.apply_fixes(broken, quirks.ISENS)
    assert fixed == _record(base_time=BleDateTime(2026, 1, 2, 0, 10, 0))
    fine = _record()
    assert quirks.apply_fixes(fine, quirks.ISENS) is fine
    assert quirks.apply_fixes(broken, None) is broken
    assert quirks.apply_fixes(broken, quirks.BEURER) is broken


def test_isens_ketone_record_dropped() -> None:
    ketone = GlucoseContext(3, meal=6)
    assert drop_reason(_record(), ketone, quirks.ISENS) == "ketone_record"
    assert drop_reason(_record(), GlucoseContext(3, meal=1), quirks.ISENS) is None
    assert drop_reason(_record(), None, quirks.ISENS) is None
    assert drop_reason(_record(), ketone, None) is None
    assert meal_name(ketone, quirks.ISENS) == "ketone"
    assert meal_name(ketone, None) is None
    assert meal_name(GlucoseContext(3, meal=2), quirks.ISENS) == "postprandial"
    assert meal_name(None, quirks.ISENS) is None


def test_fora_placeholder_dropped() -> None:
    placeholder = _record(base_time=BleDateTime(2037, 1, 1, 0, 0, 0), sensor_status=0x0020)
    assert drop_reason(placeholder, None, quirks.TAIDOC_FORA) == "memory_full_placeholder"
    assert drop_reason(_record(), None, quirks.TAIDOC_FORA) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"sample_type": 10}, "control_solution"),
        ({"sample_location": 4}, "control_solution"),
        ({}, None),
        ({"concentration": None, "sample_type": None, "sample_location": None}, None),
    ],
)
def test_control_solution_filter(changes: dict[str, object], reason: str | None) -> None:
    assert drop_reason(_record(**changes), None) == reason
    assert drop_reason(_record(**changes), None, drop_control_solution=False) is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"sensor_status": 0x0020}, "hi"),
        ({"sensor_status": 0x0040}, "lo"),
        ({"concentration": Numeric.of_special(Special.POSITIVE_INFINITY)}, "hi"),
        ({"concentration": Numeric.of_special(Special.NEGATIVE_INFINITY)}, "lo"),
        ({"concentration": Numeric.of_special(Special.NRES)}, None),
        ({"sensor_status": 0x0001}, None),
        ({}, None),
    ],
)
def test_hi_lo(changes: dict[str, object], expected: str | None) -> None:
    assert hi_lo(_record(**changes)) == expected
