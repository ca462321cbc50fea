"""Device-family quirks for BLE meters, as data plus small pure functions (PROTOCOLS.md §5).

A session asks `match_quirk(name, manufacturer, model, services)` once it knows what it is
talking to (advertised name and service UUIDs at scan time; DIS manufacturer/model after
connecting) — or `quirk_by_name(config.quirk)` when the operator forces a family — and then
applies the fields: a different 0x2A35 decoder, a settle delay, a command to write, a record to
drop. Nothing here does I/O.

Matching rules: a quirk has one or more `Matcher`s; a matcher hits when *all* of the criteria
it sets hold (name regex on the advertised name, case-insensitive manufacturer prefix, model
regex on the DIS model, service UUIDs all present); a quirk matches when *any* of its matchers
hits. The registry is tried in order, most specific first. Name patterns for Beurer, TaiDoc
and Contour are educated guesses (**unverified** against real advertisements), which is why
each family can also be matched on DIS strings and why `DeviceConfig.quirk` can force one.

Generic policy that is no single family's quirk also lives here: control-solution filtering
and HI/LO detection (`drop_reason`, `hi_lo`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from drivers.ble import uuids
from drivers.ble.bp import (
    BloodPressureMeasurement,
    decode_bp_measurement_beurer,
    encode_bp_measurement_beurer,
)
from drivers.ble.datetime_codec import (
    DATE_TIME_LEN,
    BleDateTime,
    decode_date_time,
    encode_date_time,
)
from drivers.ble.glucose import GlucoseContext, GlucoseMeasurement
from drivers.errors import DecodeError, UsageError

DropPredicate = Callable[[GlucoseMeasurement, GlucoseContext | None], str | None]


def _search(pattern: str, text: str | None) -> bool:
    return text is not None and re.search(pattern, text.strip(), re.IGNORECASE) is not None


@dataclass(frozen=True, slots=True)
class Matcher:
    name_regex: str | None = None
    manufacturer_prefix: str | None = None
    model_regex: str | None = None
    services: frozenset[str] = frozenset()  # normalized 128-bit strings; all must be present

    def matches(
        self, name: str | None, manufacturer: str | None, model: str | None, services: set[str]
    ) -> bool:
        checks: list[bool] = []
        if self.name_regex is not None:
            checks.append(_search(self.name_regex, name))
        if self.manufacturer_prefix is not None:
            checks.append(
                (manufacturer or "").strip().casefold().startswith(
                    self.manufacturer_prefix.casefold()
                )
            )
        if self.model_regex is not None:
            checks.append(_search(self.model_regex, model))
        if self.services:
            checks.append(self.services <= services)
        return bool(checks) and all(checks)


def _services(*values: int | str) -> frozenset[str]:
    return frozenset(uuids.normalize_uuid(v) for v in values)


@dataclass(frozen=True, slots=True)
class Quirk:
    name: str
    description: str
    kinds: frozenset[str]  # "blood_pressure" and/or "glucose"
    matchers: tuple[Matcher, ...]
    # Blood pressure
    decode_bp: Callable[[bytes], BloodPressureMeasurement] | None = None
    encode_bp: Callable[[BloodPressureMeasurement], bytes] | None = None  # for simulators
    subscribe_delay_s: float = 0.0  # wait after discovery before enabling indications
    disconnects_after_send: bool = False  # the device ends the link itself: not an error
    # Pairing
    requires_bond: bool = False
    requires_passkey: bool = False  # PIN shown on the meter; needs a BlueZ agent or pre-pairing
    # Glucose record access
    sequence_unreliable: bool = False  # do not use ">= last+1" delta sync; fetch all, de-dup
    has_context: bool = True
    drop_record: DropPredicate | None = None
    fix_measurement: Callable[[GlucoseMeasurement], GlucoseMeasurement] | None = None
    meal_names: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    # Commands and clocks
    send_all_service: str | None = None
    send_all_char: str | None = None
    send_all_command: bytes | None = None  # written before enabling indications
    set_time_service: str | None = None
    set_time_char: str | None = None  # writable clock; the value is a GATT Date Time
    custom_time_service: tuple[str, ...] = ()  # any of these (newest first) holds the clock
    custom_time_char: tuple[str, ...] = ()  # same order as custom_time_service
    placeholder_models: frozenset[str] = frozenset()  # DIS model strings that mean "none"
    notes: str = ""

    def clean_model(self, model: str | None) -> str | None:
        if model is None or model.strip() in self.placeholder_models:
            return None
        return model.strip() or None


# --- i-SENS CareSens custom clock (Tidepool bluetoothLEDriver.js, PROTOCOLS.md §5) ---------

ISENS_TIME_HEADER = bytes([0xC0, 0x03, 0x01, 0x00])


def isens_get_time_command() -> bytes:
    """Ask an i-SENS meter for its clock: the header plus an all-zero Date Time."""
    return ISENS_TIME_HEADER + bytes(DATE_TIME_LEN)


def isens_set_time_command(value: BleDateTime) -> bytes:
    return ISENS_TIME_HEADER + encode_date_time(value)


def decode_isens_time(data: bytes) -> BleDateTime:
    """The clock notification: 4 header bytes we do not interpret, then a Date Time."""
    if len(data) < len(ISENS_TIME_HEADER) + DATE_TIME_LEN:
        raise DecodeError("i-SENS time notification needs 11 bytes", bytes(data), 0)
    return decode_date_time(bytes(data), len(ISENS_TIME_HEADER))


def fix_isens_month_13(m: GlucoseMeasurement) -> GlucoseMeasurement:
    """i-SENS firmware can put month 13 in Base Time after subtracting its offset.

    We read it as a carry that never reached the year: January of the following year. (Tidepool
    maps it to 1 without saying which year; a same-year January would move the record eleven
    months back, past every other record.)
    """
    base = m.base_time
    if base.month != 13:
        return m
    year = base.year + 1 if base.year is not None else None
    return replace(m, base_time=replace(base, year=year, month=1))


def drop_isens_ketone(m: GlucoseMeasurement, context: GlucoseContext | None) -> str | None:
    if context is not None and context.meal == 6:
        return "ketone_record"
    return None


# --- TaiDoc / Fora -------------------------------------------------------------------------

FORA_PLACEHOLDER_YEAR = 2037


def drop_fora_placeholder(m: GlucoseMeasurement, context: GlucoseContext | None) -> str | None:
    """A full Fora TN'G memory gains a bogus HI record dated 2037; drop any record from then.

    Only the year is tested: how the "HI" is encoded in that record is not documented, and no
    genuine record can carry that year while it lies in the future.
    """
    if m.base_time.year == FORA_PLACEHOLDER_YEAR:
        return "memory_full_placeholder"
    return None


# --- Registry ------------------------------------------------------------------------------

BEURER = Quirk(
    name="beurer_bm",
    description="Beurer BM48/BM59/BM85/ELITE900: big-endian pulse and status, unflagged user id",
    kinds=frozenset({"blood_pressure"}),
    matchers=(
        Matcher(name_regex=r"^(BM ?(48|59|85)|ELITE ?900)\b"),
        Matcher(manufacturer_prefix="beurer", model_regex=r"BM ?(48|59|85)\b|ELITE ?900"),
    ),
    decode_bp=decode_bp_measurement_beurer,
    encode_bp=encode_bp_measurement_beurer,
    subscribe_delay_s=0.1,
    notes="flags 0x56 (reserved bit 6 set); BM85 stays silent without the settle delay",
)

AND_UA651 = Quirk(
    name="and_ua651",
    description="A&D UA-651BLE: send-all command, writable Date Time in the BP service",
    kinds=frozenset({"blood_pressure"}),
    matchers=(
        Matcher(name_regex=r"^A&D_UA-651"),
        Matcher(services=frozenset({uuids.AND_CUSTOM_SERVICE})),
        Matcher(manufacturer_prefix="A&D", model_regex=r"UA-651"),
    ),
    disconnects_after_send=True,
    requires_bond=True,
    send_all_service=uuids.AND_CUSTOM_SERVICE,
    send_all_char=uuids.AND_CUSTOM_CHARACTERISTIC,
    send_all_command=bytes([0x02, 0x00, 0xE1]),
    set_time_service=uuids.uuid_str(uuids.BLOOD_PRESSURE_SERVICE),
    set_time_char=uuids.uuid_str(uuids.DATE_TIME),
    notes="order: send-all, write Date Time 0x2A08, enable 0x2A35 indications; pair in 'Pr' mode",
)

ISENS = Quirk(
    name="isens_caresens",
    description="i-SENS CareSens N Premier/Dual, ReliOn 2395/0015: custom clock, ketone meal 6",
    kinds=frozenset({"glucose"}),
    matchers=(
        Matcher(name_regex=r"^(CareSens|ReliOn (2395|0015))"),
        Matcher(manufacturer_prefix="i-SENS"),
        Matcher(services=frozenset({uuids.ISENS_TIME_SERVICE_V15})),
        Matcher(services=_services(uuids.GLUCOSE_SERVICE, uuids.ISENS_TIME_SERVICE_V14)),
    ),
    requires_bond=True,
    drop_record=drop_isens_ketone,
    fix_measurement=fix_isens_month_13,
    meal_names=MappingProxyType({6: "ketone"}),
    custom_time_service=(
        uuids.ISENS_TIME_SERVICE_V15,
        uuids.uuid_str(uuids.ISENS_TIME_SERVICE_V14),
    ),
    custom_time_char=(
        uuids.ISENS_TIME_CHARACTERISTIC_V15,
        uuids.uuid_str(uuids.ISENS_TIME_CHARACTERISTIC_V14),
    ),
    notes="no CTS; clock via isens_get_time_command()/isens_set_time_command()",
)

TAIDOC_FORA = Quirk(
    name="taidoc_fora",
    description="TaiDoc / ForaCare TN'G: unreliable sequence numbers, 2037 placeholder record",
    kinds=frozenset({"glucose"}),
    matchers=(
        Matcher(name_regex=r"^(TNG|FORA|TAIDOC|DIAMOND ?MINI)"),
        Matcher(manufacturer_prefix="TaiDoc"),
        Matcher(manufacturer_prefix="Fora"),
        Matcher(model_regex=r"^Model Number$", services=_services(uuids.GLUCOSE_SERVICE)),
    ),
    sequence_unreliable=True,
    drop_record=drop_fora_placeholder,
    placeholder_models=frozenset({"Model Number"}),
    notes="Diamond Mini numbers in reverse (newest = 0) and has no context or CTS",
)

ROCHE = Quirk(
    name="roche_accu_chek",
    description="Roche Accu-Chek Guide/Instant/Aviva Connect: passkey bonding",
    kinds=frozenset({"glucose"}),
    matchers=(
        Matcher(manufacturer_prefix="Roche"),
        Matcher(name_regex=r"^meter\+\d+"),
    ),
    requires_bond=True,
    requires_passkey=True,
    set_time_service=uuids.uuid_str(uuids.GLUCOSE_SERVICE),
    set_time_char=uuids.uuid_str(uuids.DATE_TIME),
    notes="Aviva Connect has Date Time 0x2A08 in the glucose service instead of CTS (if present)",
)

ASCENSIA = Quirk(
    name="ascensia_contour",
    description="Ascensia Contour Next One: standard GLS, one-time bond in pairing mode",
    kinds=frozenset({"glucose"}),
    matchers=(
        Matcher(manufacturer_prefix="Ascensia"),
        Matcher(name_regex=r"^Contour"),
        Matcher(services=frozenset({uuids.ASCENSIA_SERVICE})),
    ),
    requires_bond=True,
)

REGISTRY: tuple[Quirk, ...] = (AND_UA651, BEURER, ISENS, ROCHE, ASCENSIA, TAIDOC_FORA)
_BY_NAME = {q.name: q for q in REGISTRY}


def quirk_by_name(name: str) -> Quirk:
    """The quirk an operator forced in the config; UsageError (listing the names) if unknown."""
    quirk = _BY_NAME.get(name.strip().lower())
    if quirk is None:
        known = ", ".join(sorted(_BY_NAME))
        raise UsageError(f"unknown BLE quirk {name!r}; known quirks: {known}")
    return quirk


def match_quirk(
    name: str | None,
    manufacturer: str | None,
    model: str | None,
    services: Collection[int | str] = (),
) -> Quirk | None:
    """The first registry entry whose matchers hit, or None for a standard device."""
    normalized = {uuids.normalize_uuid(s) for s in services}
    for quirk in REGISTRY:
        if any(m.matches(name, manufacturer, model, normalized) for m in quirk.matchers):
            return quirk
    return None


# --- Generic glucose policy ----------------------------------------------------------------


def hi_lo(m: GlucoseMeasurement) -> str | None:
    """"hi" or "lo" when the meter says the result is outside its range, else None."""
    if m.is_high:
        return "hi"
    if m.is_low:
        return "lo"
    return None


def apply_fixes(m: GlucoseMeasurement, quirk: Quirk | None) -> GlucoseMeasurement:
    if quirk is not None and quirk.fix_measurement is not None:
        return quirk.fix_measurement(m)
    return m


def drop_reason(
    m: GlucoseMeasurement,
    context: GlucoseContext | None,
    quirk: Quirk | None = None,
    *,
    drop_control_solution: bool = True,
) -> str | None:
    """Why a record must not become a reading ("control_solution", a quirk's reason), or None.

    A record with no concentration is kept: it may still carry a HI/LO flag worth reporting.
    """
    if drop_control_solution and m.is_control_solution:
        return "control_solution"
    if quirk is not None and quirk.drop_record is not None:
        return quirk.drop_record(m, context)
    return None


def meal_name(context: GlucoseContext | None, quirk: Quirk | None = None) -> str | None:
    """The meal code's name, with a quirk's vendor codes (i-SENS 6 = "ketone") taking effect."""
    if context is None or context.meal is None:
        return None
    if quirk is not None and context.meal in quirk.meal_names:
        return quirk.meal_names[context.meal]
    return context.meal_name
