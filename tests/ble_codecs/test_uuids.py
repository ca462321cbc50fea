from __future__ import annotations

import pytest

from drivers.ble import uuids
from drivers.errors import UsageError


def test_uuid_str() -> None:
    assert uuids.uuid_str(uuids.GLUCOSE_MEASUREMENT) == "00002a18-0000-1000-8000-00805f9b34fb"
    with pytest.raises(UsageError):
        uuids.uuid_str(0x10000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2a52", 0x2A52),
        ("0x2A52", 0x2A52),
        (" 00002A52-0000-1000-8000-00805F9B34FB ", 0x2A52),
        ("233bf000-5a34-1b6d-975c-000d5690abe4", None),
        ("not-hex", None),
        ("12345", None),
    ],
)
def test_to_uuid16(text: str, expected: int | None) -> None:
    assert uuids.to_uuid16(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0x1808, "00001808-0000-1000-8000-00805f9b34fb"),
        ("1808", "00001808-0000-1000-8000-00805f9b34fb"),
        ("233BF000-5A34-1B6D-975C-000D5690ABE4", "233bf000-5a34-1b6d-975c-000d5690abe4"),
    ],
)
def test_normalize_uuid(value: int | str, expected: str) -> None:
    assert uuids.normalize_uuid(value) == expected


def test_names_both_ways() -> None:
    assert uuids.resolve("record_access_control_point") == 0x2A52
    assert uuids.resolve("RACP") == 0x2A52
    assert uuids.resolve("glucose-measurement-context") == 0x2A34
    assert uuids.name_of(0x2A35) == "blood_pressure_measurement"
    assert uuids.name_of("0x2a2b") == "current_time"
    assert uuids.name_of(0xFFF0) is None
    assert uuids.name_of("vendor") is None
    for name, number in uuids.NAMES.items():
        assert uuids.BY_UUID[number] == name
    with pytest.raises(UsageError, match="blood_pressure_measurement"):
        uuids.resolve("fff0")
