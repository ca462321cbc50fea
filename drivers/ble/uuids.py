"""Bluetooth SIG UUIDs for the services and characteristics we use, and a name table.

Constants are 16-bit assigned numbers (ints). bleak wants the full 128-bit string form; use
`uuid_str(CONSTANT)`. `NAMES` maps our snake_case names to the 16-bit numbers and is what the
decode CLI and the quirk registry accept as characteristic names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from drivers.errors import UsageError

BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"

# Services
GENERIC_ACCESS = 0x1800
GENERIC_ATTRIBUTE = 0x1801
CURRENT_TIME_SERVICE = 0x1805
GLUCOSE_SERVICE = 0x1808
DEVICE_INFORMATION_SERVICE = 0x180A
BATTERY_SERVICE = 0x180F
BLOOD_PRESSURE_SERVICE = 0x1810

# Time characteristics
DATE_TIME = 0x2A08
DAY_OF_WEEK = 0x2A09
DAY_DATE_TIME = 0x2A0A
EXACT_TIME_256 = 0x2A0C
LOCAL_TIME_INFORMATION = 0x2A0F
REFERENCE_TIME_INFORMATION = 0x2A14
CURRENT_TIME = 0x2A2B

# Glucose service
GLUCOSE_MEASUREMENT = 0x2A18
GLUCOSE_MEASUREMENT_CONTEXT = 0x2A34
GLUCOSE_FEATURE = 0x2A51
RECORD_ACCESS_CONTROL_POINT = 0x2A52

# Blood pressure service
BLOOD_PRESSURE_MEASUREMENT = 0x2A35
INTERMEDIATE_CUFF_PRESSURE = 0x2A36
BLOOD_PRESSURE_FEATURE = 0x2A49

# Device information service
SYSTEM_ID = 0x2A23
MODEL_NUMBER_STRING = 0x2A24
SERIAL_NUMBER_STRING = 0x2A25
FIRMWARE_REVISION_STRING = 0x2A26
HARDWARE_REVISION_STRING = 0x2A27
SOFTWARE_REVISION_STRING = 0x2A28
MANUFACTURER_NAME_STRING = 0x2A29
REGULATORY_CERTIFICATION_DATA_LIST = 0x2A2A
PNP_ID = 0x2A50

# Others
BATTERY_LEVEL = 0x2A19
DEVICE_NAME = 0x2A00
CLIENT_CHARACTERISTIC_CONFIGURATION = 0x2902

# Vendor 128-bit UUIDs (PROTOCOLS.md §5); lowercase, as bleak reports them.
AND_CUSTOM_SERVICE = "233bf000-5a34-1b6d-975c-000d5690abe4"
AND_CUSTOM_CHARACTERISTIC = "233bf001-5a34-1b6d-975c-000d5690abe4"
ISENS_TIME_SERVICE_V14 = 0xFFF0
ISENS_TIME_CHARACTERISTIC_V14 = 0xFFF1
ISENS_TIME_SERVICE_V15 = "c4dea010-5a9d-11e9-8647-d663bd873d93"
ISENS_TIME_CHARACTERISTIC_V15 = "c4dea3bc-5a9d-11e9-8647-d663bd873d93"
TAIDOC_SERVICE = "00001523-1212-efde-1523-785feabcd123"
TAIDOC_CHARACTERISTIC = "00001524-1212-efde-1523-785feabcd123"
ASCENSIA_SERVICE = "00000000-0002-11e2-9e96-0800200c9a66"

_NAMES: dict[str, int] = {
    "generic_access": GENERIC_ACCESS,
    "generic_attribute": GENERIC_ATTRIBUTE,
    "current_time_service": CURRENT_TIME_SERVICE,
    "glucose_service": GLUCOSE_SERVICE,
    "device_information_service": DEVICE_INFORMATION_SERVICE,
    "battery_service": BATTERY_SERVICE,
    "blood_pressure_service": BLOOD_PRESSURE_SERVICE,
    "date_time": DATE_TIME,
    "day_of_week": DAY_OF_WEEK,
    "day_date_time": DAY_DATE_TIME,
    "exact_time_256": EXACT_TIME_256,
    "local_time_information": LOCAL_TIME_INFORMATION,
    "reference_time_information": REFERENCE_TIME_INFORMATION,
    "current_time": CURRENT_TIME,
    "glucose_measurement": GLUCOSE_MEASUREMENT,
    "glucose_measurement_context": GLUCOSE_MEASUREMENT_CONTEXT,
    "glucose_feature": GLUCOSE_FEATURE,
    "record_access_control_point": RECORD_ACCESS_CONTROL_POINT,
    "blood_pressure_measurement": BLOOD_PRESSURE_MEASUREMENT,
    "intermediate_cuff_pressure": INTERMEDIATE_CUFF_PRESSURE,
    "blood_pressure_feature": BLOOD_PRESSURE_FEATURE,
    "system_id": SYSTEM_ID,
    "model_number_string": MODEL_NUMBER_STRING,
    "serial_number_string": SERIAL_NUMBER_STRING,
    "firmware_revision_string": FIRMWARE_REVISION_STRING,
    "hardware_revision_string": HARDWARE_REVISION_STRING,
    "software_revision_string": SOFTWARE_REVISION_STRING,
    "manufacturer_name_string": MANUFACTURER_NAME_STRING,
    "regulatory_certification_data_list": REGULATORY_CERTIFICATION_DATA_LIST,
    "pnp_id": PNP_ID,
    "battery_level": BATTERY_LEVEL,
    "device_name": DEVICE_NAME,
    "client_characteristic_configuration": CLIENT_CHARACTERISTIC_CONFIGURATION,
}

NAMES: Mapping[str, int] = MappingProxyType(_NAMES)
BY_UUID: Mapping[int, str] = MappingProxyType({v: k for k, v in _NAMES.items()})

# Short aliases people type; they resolve to the canonical names above.
_ALIASES = {
    "racp": "record_access_control_point",
    "glucose_context": "glucose_measurement_context",
    "bp_measurement": "blood_pressure_measurement",
    "bp_feature": "blood_pressure_feature",
    "icp": "intermediate_cuff_pressure",
    "manufacturer_name": "manufacturer_name_string",
    "model_number": "model_number_string",
    "serial_number": "serial_number_string",
    "firmware_revision": "firmware_revision_string",
    "hardware_revision": "hardware_revision_string",
    "software_revision": "software_revision_string",
}

_FULL_RE = re.compile(r"^0000([0-9a-f]{4})" + re.escape(BASE_UUID_SUFFIX) + r"$")
_SHORT_RE = re.compile(r"^(?:0x)?([0-9a-f]{1,4})$")


def uuid_str(uuid16: int) -> str:
    """The 128-bit string form of a 16-bit assigned number, lowercase as bleak reports it."""
    if not 0 <= uuid16 <= 0xFFFF:
        raise UsageError(f"not a 16-bit UUID: {uuid16!r}")
    return f"0000{uuid16:04x}{BASE_UUID_SUFFIX}"


def to_uuid16(text: str) -> int | None:
    """The 16-bit number inside '2a35', '0x2A35' or a full base-UUID string; else None."""
    cleaned = text.strip().lower()
    full = _FULL_RE.match(cleaned)
    if full:
        return int(full.group(1), 16)
    short = _SHORT_RE.match(cleaned)
    if short:
        return int(short.group(1), 16)
    return None


def normalize_uuid(value: int | str) -> str:
    """Any UUID spelling (16-bit int, short hex, full string) as the lowercase 128-bit string.

    Vendor 128-bit UUIDs come back lowercased and otherwise unchanged, so sets of service UUIDs
    from scans and from the quirk registry can be compared directly.
    """
    if isinstance(value, int):
        return uuid_str(value)
    short = to_uuid16(value)
    if short is not None:
        return uuid_str(short)
    return value.strip().lower()


def short_uuid(uuid: str) -> str:
    """"2a35" for SIG base UUIDs, the full UUID otherwise (the capture format's spelling)."""
    full = normalize_uuid(uuid)
    base = _FULL_RE.match(full)
    return base.group(1) if base else full


def resolve(text: str) -> int:
    """A characteristic or service given by name, alias, short hex or full UUID -> 16-bit number.

    Raises UsageError for anything we do not know; the message lists how to spell it.
    """
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key in _NAMES:
        return _NAMES[key]
    number = to_uuid16(text)
    if number is not None and number in BY_UUID:
        return number
    raise UsageError(
        f"unknown characteristic {text!r}: give a 16-bit UUID such as 2a35, a full "
        f"0000xxxx{BASE_UUID_SUFFIX} UUID, or a name such as blood_pressure_measurement"
    )


def name_of(value: int | str) -> str | None:
    """Our snake_case name for a 16-bit number or UUID string, or None if not in the table."""
    number = value if isinstance(value, int) else to_uuid16(value)
    if number is None:
        return None
    return BY_UUID.get(number)
