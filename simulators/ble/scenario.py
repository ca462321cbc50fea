"""Simulated BLE meters described by a TOML scenario file, read by the real BLE runner.

A `[[devices]]` entry with `transport = "simulated"` and `options.scenario = "FILE"` runs the
meter the file describes (simulators/README.md has the format): `parse_scenario` checks the
file into frozen dataclasses, or raises a `ScenarioError` naming the file and the field;
`ScenarioRunner` builds the simulated peripheral (the classes in `devices.py`, so quirks,
clocks and faults are the ones the tests use) in an in-process `Air` once, and hands every
session to a `BleRunner` whose bleak client runs over that air. Everything from the GATT bytes
up is the production path; only the radio is simulated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import tomllib
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.clock import UnknownTimeZoneError, site_zone
from core.devices import DeviceConfig, DeviceContext
from core.reading import BloodPressure, Glucose, Kind
from drivers.ble import bp as bp_codec
from drivers.ble.glucose import MEALS
from drivers.ble.link import ConnectPolicy
from drivers.ble.quirks import REGISTRY
from drivers.ble.runner import BleRunner
from drivers.ble.session_bp import BpOptions
from simulators.ble.backend import Air
from simulators.ble.devices import (
    WITA,
    AccuChekMeter,
    AndUa651,
    BeurerBpMonitor,
    BpMonitor,
    BpRecord,
    CareSensMeter,
    DeviceClock,
    ForaMeter,
    GlucoseFaults,
    GlucoseMeter,
    StoredGlucose,
    glucose_record,
)
from simulators.errors import SimulatorConfigError

_LOGGER = logging.getLogger(__name__)

Clock = Callable[[], datetime]

STANDARD = "standard"
# Which simulated device class plays each family; the names are drivers/ble/quirks.py's, so
# the gateway recognises the device the way it recognises the real one.
BP_FAMILIES: Mapping[str, type[BpMonitor]] = types.MappingProxyType({
    STANDARD: BpMonitor,  # Omron-like standard Blood Pressure Service monitor
    "beurer_bm": BeurerBpMonitor,
    "and_ua651": AndUa651,
})
GLUCOSE_FAMILIES: Mapping[str, type[GlucoseMeter]] = types.MappingProxyType({
    STANDARD: GlucoseMeter,  # Contour-like standard Glucose Service meter
    "ascensia_contour": GlucoseMeter,
    "isens_caresens": CareSensMeter,
    "taidoc_fora": ForaMeter,
    "roche_accu_chek": AccuChekMeter,
})
# Families whose device class needs a clock it cannot do without (CareSens: no CTS at all).
_NO_CTS = frozenset({"isens_caresens"})
_NO_CONTEXT = frozenset({"taidoc_fora"})  # no 0x2A34: a meal marker would vanish silently

BP_FLAGS: Mapping[str, int] = types.MappingProxyType({
    "body_movement": bp_codec.STATUS_BODY_MOVEMENT,
    "cuff_loose": bp_codec.STATUS_CUFF_LOOSE,
    "irregular_pulse": bp_codec.STATUS_IRREGULAR_PULSE,
    "pulse_above_range": 1 << 3,
    "pulse_below_range": 2 << 3,
    "improper_position": bp_codec.STATUS_IMPROPER_POSITION,
})
GLUCOSE_FLAGS = frozenset({"hi", "lo", "control_solution"})
MEAL_CODES: Mapping[str, int] = types.MappingProxyType({name: code for code, name in MEALS.items()})
BP_UNITS = ("mmHg", "kPa")
GLUCOSE_UNITS = ("mg/dL", "mmol/L")

_TOP_KEYS = frozenset({
    "profile", "name", "address", "manufacturer", "model", "serial", "firmware", "quirk",
    "unit", "battery_pct", "passkey", "clock", "records", "generate", "faults",
})
_CLOCK_KEYS = frozenset({"offset_s", "drift_ppm", "zone", "readable"})
_BP_RECORD_KEYS = frozenset({"systolic", "diastolic", "pulse", "map", "user", "flags", "at",
                             "ago_min"})
_GLUCOSE_RECORD_KEYS = frozenset({"glucose", "meal", "flags", "at", "ago_min"})
_GENERATE_KEYS = frozenset({"every_s"})
_FAULT_KEYS = frozenset({
    "refuse_connect_times", "disconnect_after_records", "disconnect_sessions",
    "duplicate_records", "response_delay_s",
})


class ScenarioError(SimulatorConfigError):
    """A scenario file is unreadable or wrong; names the file and the field to fix."""

    def __init__(self, path: Path, field: str, problem: str) -> None:
        self.path = path
        self.field = field
        self.problem = problem
        super().__init__(f"scenario file {path}: {field}: {problem}")


@dataclass(frozen=True, slots=True)
class ClockSpec:
    offset_s: float = 0.0  # device clock minus true time, at start-up
    drift_ppm: float = 0.0  # and how fast that offset grows
    zone: str | None = None  # the device's wall-clock zone; None: the device's site_tz
    readable: bool = False  # a clock the gateway can read (BP: Date Time 0x2A08; glucose: CTS)


@dataclass(frozen=True, slots=True)
class BpRecordSpec:
    systolic: float
    diastolic: float
    pulse: float | None = None
    map: float | None = None
    user: int | None = None
    flags: frozenset[str] = frozenset()
    at: datetime | None = None  # device wall time (naive)
    ago_min: float | None = None  # or: this long before start-up, on the device's clock


@dataclass(frozen=True, slots=True)
class GlucoseRecordSpec:
    glucose: float | None  # mg/dL; None for a HI/LO record
    meal: str | None = None
    flags: frozenset[str] = frozenset()
    at: datetime | None = None
    ago_min: float | None = None


@dataclass(frozen=True, slots=True)
class GenerateSpec:
    every_s: float  # a new measurement in memory every this many seconds


@dataclass(frozen=True, slots=True)
class FaultSpec:
    refuse_connect_times: int = 0  # the first N connection attempts fail
    disconnect_after_records: int | None = None  # the link drops after N records...
    disconnect_sessions: int = 1  # ...in each of the first N sessions
    duplicate_records: bool = False  # glucose: every record notified twice
    response_delay_s: float = 0.0  # glucose: a slow meter


RecordSpec = BpRecordSpec | GlucoseRecordSpec


@dataclass(frozen=True, slots=True)
class Scenario:
    path: Path
    profile: Kind
    name: str
    address: str
    quirk: str = STANDARD
    manufacturer: str | None = None  # None: the family's own DIS strings
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    unit: str | None = None  # on-air unit; None: mmHg / mg/dL
    battery_pct: int | None = None
    passkey: str | None = None
    clock: ClockSpec = field(default_factory=ClockSpec)
    records: tuple[RecordSpec, ...] = ()
    generate: GenerateSpec | None = None
    faults: FaultSpec = field(default_factory=FaultSpec)


# --- parsing ---------------------------------------------------------------------------------


class _Reader:
    """Typed getters over one TOML table, raising ScenarioError with the dotted field name."""

    def __init__(self, path: Path, table: Mapping[str, Any], prefix: str, known: frozenset[str]):
        self.path = path
        self.table = table
        self.prefix = prefix
        for key in table:
            if key not in known:
                raise self.error(key, f"unknown key (known: {', '.join(sorted(known))})")

    def where(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def error(self, key: str, problem: str) -> ScenarioError:
        return ScenarioError(self.path, self.where(key), problem)

    def has(self, key: str) -> bool:
        return key in self.table

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.table.get(key, default)
        if value is not None and (not isinstance(value, str) or not value):
            raise self.error(key, f"expected a non-empty string, got {value!r}")
        return value

    def number(self, key: str, default: float | None = None, *, minimum: float | None = None,
               above: float | None = None) -> float | None:
        value = self.table.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value
        ):
            raise self.error(key, f"expected a number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be {minimum:g} or more, got {value!r}")
        if above is not None and value <= above:
            raise self.error(key, f"must be more than {above:g}, got {value!r}")
        return float(value)

    def whole(self, key: str, default: int | None = None, *, minimum: int = 0,
              maximum: int | None = None) -> int | None:
        value = self.table.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected a whole number, got {value!r}")
        if value < minimum or (maximum is not None and value > maximum):
            span = f"{minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
            raise self.error(key, f"must be {span}, got {value!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def choice(self, key: str, allowed: tuple[str, ...] | frozenset[str],
               default: str | None = None, *, what: str) -> str | None:
        value = self.string(key, default)
        if value is not None and value not in allowed:
            raise self.error(key, f"{value!r} is not {what}; use {_either(allowed)}")
        return value

    def flags(self, key: str, allowed: frozenset[str] | Mapping[str, int]) -> frozenset[str]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"expected a list of strings, got {value!r}")
        out = frozenset(v.strip().lower() for v in value)
        unknown = sorted(out - set(allowed))
        if unknown:
            raise self.error(key, f"unknown flag {unknown[0]!r} (known: "
                                  f"{', '.join(sorted(allowed))})")
        return out

    def table_of(self, key: str) -> Mapping[str, Any]:
        value = self.table.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table ([{key}]), got {type(value).__name__}")
        return value

    def device_time(self, key: str) -> datetime | None:
        value = self.table.get(key)
        if value is None:
            return None
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                raise self.error(key, "a device's wall time has no zone: drop the offset/Z")
            return value
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                return parsed
        raise self.error(key, f"expected an ISO local date-time like 2026-12-01T08:00:00, "
                              f"got {value!r}")


def _either(names: tuple[str, ...] | frozenset[str] | list[str]) -> str:
    """"a, b or c": the allowed values, for an operator to copy one."""
    ordered = sorted(names) if not isinstance(names, tuple) else list(names)
    return ordered[0] if len(ordered) == 1 else f"{', '.join(ordered[:-1])} or {ordered[-1]}"


def _derived_address(name: str) -> str:
    """A stable, locally administered address from the advertised name (the device's id)."""
    digest = bytearray(hashlib.sha256(name.encode()).digest()[:6])
    digest[0] = (digest[0] | 0x02) & 0xFE
    return ":".join(f"{b:02X}" for b in digest)


def _valid_address(text: str) -> bool:
    parts = text.split(":")
    return len(parts) == 6 and all(
        len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts
    )


def _when(r: _Reader) -> tuple[datetime | None, float | None]:
    at = r.device_time("at")
    ago = r.number("ago_min", minimum=0)
    if (at is None) == (ago is None):
        raise r.error("at", "give exactly one of at or ago_min (when the device measured it)")
    return at, ago


def _bp_record(path: Path, index: int, raw: Mapping[str, Any]) -> BpRecordSpec:
    r = _Reader(path, raw, f"records[{index}].", _BP_RECORD_KEYS)
    values: dict[str, float] = {}
    for key in ("systolic", "diastolic"):
        number = r.number(key, above=0)
        if number is None:
            raise r.error(key, "required for a blood_pressure record (mmHg)")
        values[key] = number
    at, ago = _when(r)
    return BpRecordSpec(
        systolic=values["systolic"],
        diastolic=values["diastolic"],
        pulse=r.number("pulse", above=0),
        map=r.number("map", above=0),
        user=r.whole("user", maximum=254),
        flags=r.flags("flags", BP_FLAGS),
        at=at,
        ago_min=ago,
    )


def _glucose_record(path: Path, index: int, raw: Mapping[str, Any]) -> GlucoseRecordSpec:
    r = _Reader(path, raw, f"records[{index}].", _GLUCOSE_RECORD_KEYS)
    flags = r.flags("flags", GLUCOSE_FLAGS)
    out_of_range = flags & {"hi", "lo"}
    if len(out_of_range) > 1:
        raise r.error("flags", "a record is hi or lo, not both")
    glucose = r.number("glucose", above=0)
    if out_of_range and glucose is not None:
        raise r.error("glucose", f"a {sorted(out_of_range)[0]} record has no value: the meter "
                                 "shows HI/LO instead; drop glucose")
    if not out_of_range and glucose is None:
        raise r.error("glucose", "required (mg/dL), unless flags has hi or lo")
    at, ago = _when(r)
    return GlucoseRecordSpec(
        glucose=glucose,
        meal=r.choice("meal", tuple(MEAL_CODES), what="a meal marker"),
        flags=flags,
        at=at,
        ago_min=ago,
    )


def parse_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file. Raises ScenarioError naming the file and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioError(path, "file", f"cannot be read: {reason}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, "file", f"not valid TOML: {exc}") from exc
    top = _Reader(path, data, "", _TOP_KEYS)
    if not top.has("profile"):
        raise top.error("profile", "required: blood_pressure or glucose")
    profile_name = top.choice("profile", ("blood_pressure", "glucose"),
                              what="a profile")
    profile = Kind(profile_name or "")
    families = BP_FAMILIES if profile is Kind.BLOOD_PRESSURE else GLUCOSE_FAMILIES
    quirk = top.string("quirk", STANDARD) or STANDARD
    if quirk not in families:
        other = {q.name for q in REGISTRY} - set(families)
        hint = f"{quirk!r} is not a {profile.value} family" if quirk in other else (
            f"unknown family {quirk!r}")
        raise top.error("quirk", f"{hint}; use {_either(sorted(families))}")
    name = top.string("name") or families[quirk]().name
    address = top.string("address") or _derived_address(name)
    if not _valid_address(address):
        raise top.error("address", f"{address!r} is not a BLE address like AA:BB:CC:DD:EE:FF")
    units = BP_UNITS if profile is Kind.BLOOD_PRESSURE else GLUCOSE_UNITS
    unit = top.choice("unit", units, what=f"a {profile.value} unit")

    clock_reader = _Reader(path, top.table_of("clock"), "clock.", _CLOCK_KEYS)
    zone = clock_reader.string("zone")
    if zone is not None:
        try:
            site_zone(zone)
        except UnknownTimeZoneError as exc:
            raise clock_reader.error(
                "zone", f"unknown time zone {zone!r}: use an IANA name such as {WITA}"
            ) from exc
    readable_default = profile is Kind.GLUCOSE and quirk not in _NO_CTS
    clock = ClockSpec(
        offset_s=clock_reader.number("offset_s", 0.0) or 0.0,
        drift_ppm=clock_reader.number("drift_ppm", 0.0) or 0.0,
        zone=zone,
        readable=clock_reader.boolean("readable", readable_default),
    )

    raw_records = data.get("records", [])
    if not isinstance(raw_records, list) or not all(isinstance(r, dict) for r in raw_records):
        raise top.error("records", "expected an array of tables ([[records]])")
    parse_record = _bp_record if profile is Kind.BLOOD_PRESSURE else _glucose_record
    records = tuple(parse_record(path, i, raw) for i, raw in enumerate(raw_records))
    if quirk in _NO_CONTEXT:
        for index, record in enumerate(records):
            if isinstance(record, GlucoseRecordSpec) and record.meal is not None:
                raise ScenarioError(
                    path, f"records[{index}].meal",
                    f"a {quirk} meter has no Glucose Measurement Context: it cannot send meal "
                    "markers; drop meal",
                )

    generate = None
    if top.has("generate"):
        gen = _Reader(path, top.table_of("generate"), "generate.", _GENERATE_KEYS)
        every = gen.number("every_s", above=0)
        if every is None:
            raise gen.error("every_s", "required: seconds between new measurements")
        generate = GenerateSpec(every)

    f = _Reader(path, top.table_of("faults"), "faults.", _FAULT_KEYS)
    faults = FaultSpec(
        refuse_connect_times=f.whole("refuse_connect_times", 0) or 0,
        disconnect_after_records=f.whole("disconnect_after_records"),
        disconnect_sessions=f.whole("disconnect_sessions", 1, minimum=1) or 1,
        duplicate_records=f.boolean("duplicate_records", False),
        response_delay_s=f.number("response_delay_s", 0.0, minimum=0) or 0.0,
    )
    if profile is Kind.BLOOD_PRESSURE:
        for key in ("duplicate_records", "response_delay_s"):
            if f.has(key):
                raise f.error(key, "only simulated for glucose meters")

    return Scenario(
        path=path,
        profile=profile,
        name=name,
        address=address.upper(),
        quirk=quirk,
        manufacturer=top.string("manufacturer"),
        model=top.string("model"),
        serial=top.string("serial"),
        firmware=top.string("firmware"),
        unit=unit,
        battery_pct=top.whole("battery_pct", maximum=100),
        passkey=top.string("passkey"),
        clock=clock,
        records=records,
        generate=generate,
        faults=faults,
    )


# --- building the simulated device ----------------------------------------------------------


def _record_time(spec: RecordSpec, clock: DeviceClock, started: datetime) -> datetime:
    if spec.at is not None:
        return spec.at
    ago = spec.ago_min or 0.0
    return clock.local_at(started - timedelta(minutes=ago)).replace(microsecond=0)


def _bp_record_of(spec: BpRecordSpec, taken_at: datetime) -> BpRecord:
    status = 0
    for flag in spec.flags:
        status |= BP_FLAGS[flag]
    return BpRecord(
        spec.systolic, spec.diastolic, spec.pulse, taken_at,
        map_mmhg=spec.map, status=status if spec.flags else None, user_id=spec.user,
    )


def _glucose_record_of(
    spec: GlucoseRecordSpec, sequence: int, taken_at: datetime, mmol: bool
) -> StoredGlucose:
    return glucose_record(
        sequence, taken_at, spec.glucose,
        meal=MEAL_CODES[spec.meal] if spec.meal else None,
        control_solution="control_solution" in spec.flags,
        hi="hi" in spec.flags,
        lo="lo" in spec.flags,
        mmol=mmol,
    )


def build_peripheral(
    scenario: Scenario, clock: DeviceClock, started: datetime
) -> BpMonitor | GlucoseMeter:
    """The simulated device for `scenario`, its memory filled, on `clock`."""
    kwargs: dict[str, Any] = {"address": scenario.address, "name": scenario.name,
                              "clock": clock}
    for key in ("manufacturer", "model", "serial", "firmware"):
        value = getattr(scenario, key)
        if value is not None:
            kwargs[key] = value
    if scenario.battery_pct is not None:
        kwargs["battery_pct"] = scenario.battery_pct
    faults = scenario.faults
    peripheral: BpMonitor | GlucoseMeter
    if scenario.profile is Kind.BLOOD_PRESSURE:
        bp_cls = BP_FAMILIES[scenario.quirk]
        if scenario.unit == "kPa":
            kwargs["unit"] = bp_codec.PressureUnit.KPA
        if scenario.clock.readable and bp_cls is not AndUa651:  # A&D has its own Date Time
            kwargs["clock_readable"] = True
        peripheral = bp_cls(
            records=[
                _bp_record_of(spec, _record_time(spec, clock, started))
                for spec in scenario.records if isinstance(spec, BpRecordSpec)
            ],
            disconnect_after_records=faults.disconnect_after_records,
            disconnect_sessions=faults.disconnect_sessions,
            **kwargs,
        )
    else:
        glucose_cls = GLUCOSE_FAMILIES[scenario.quirk]
        mmol = scenario.unit == "mmol/L"
        if scenario.quirk not in _NO_CTS:
            kwargs["has_cts"] = scenario.clock.readable
        if scenario.passkey is not None:
            kwargs["passkey"] = scenario.passkey
        peripheral = glucose_cls(
            records=[
                _glucose_record_of(spec, seq, _record_time(spec, clock, started), mmol)
                for seq, spec in enumerate(
                    (s for s in scenario.records if isinstance(s, GlucoseRecordSpec)), start=1
                )
            ],
            faults=GlucoseFaults(
                disconnect_after_records=faults.disconnect_after_records,
                disconnect_sessions=faults.disconnect_sessions,
                duplicate_records=faults.duplicate_records,
                response_delay_s=faults.response_delay_s,
                ignore_sequence_filter=scenario.quirk == "taidoc_fora",
            ),
            **kwargs,
        )
    peripheral.refuse_connects = faults.refuse_connect_times
    return peripheral


# --- the runner ------------------------------------------------------------------------------


# Device options the BLE runner understands and a scenario device passes on unchanged.
_PASSED_TO_BLE = (
    "site_tz", "record", "passkey", "bond", "write_clock", "keep_control_solution"
)


@dataclass(slots=True)
class _Running:
    air: Air
    peripheral: BpMonitor | GlucoseMeter
    clock: DeviceClock
    started: datetime
    ble: BleRunner
    generated: int = 0


class ScenarioRunner:
    """Runs `config`'s scenario device; one `run_once` is one real BLE session with it.

    The simulated device is made on the first session (with the supervisor's clock) and then
    kept: its memory, its clock and the faults it has yet to show last as long as the gateway
    process, as a real meter's do between connections.
    """

    def __init__(self, config: DeviceConfig, scenario: Scenario) -> None:
        if config.kind is not None and config.kind != scenario.profile.value:
            raise SimulatorConfigError(
                f"kind: {config.kind!r}, but scenario {scenario.path} is a "
                f"{scenario.profile.value} device; drop kind or make them agree"
            )
        self.config = config
        self.scenario = scenario
        self._running: _Running | None = None

    def _start(self, clock: Clock) -> _Running:
        spec = self.scenario
        zone = spec.clock.zone or str(self.config.options.get("site_tz", WITA))
        device_clock = DeviceClock(clock, drift_s=spec.clock.offset_s, tz=zone,
                                   drift_ppm=spec.clock.drift_ppm)
        started = clock()
        peripheral = build_peripheral(spec, device_clock, started)
        air = Air()
        air.add(peripheral)
        options: dict[str, Any] = {
            key: self.config.options[key] for key in _PASSED_TO_BLE if key in self.config.options
        }
        if spec.passkey is not None:
            options.setdefault("passkey", spec.passkey)
        elif isinstance(peripheral, AccuChekMeter) and peripheral.passkey is not None:
            options.setdefault("passkey", peripheral.passkey)
        if spec.profile is Kind.BLOOD_PRESSURE and spec.clock.readable:
            # The gateway reads a BP monitor's clock only where it also sets it.
            options.setdefault("write_clock", True)
        options.update(
            backend=air,
            # A simulated radio answers at once: short scans and pauses keep faults quick.
            connect_policy=ConnectPolicy(scan_timeout_s=3.0, attempts=3, backoff_s=0.2,
                                         attempt_timeout_s=10.0),
            bp=BpOptions(idle_timeout_s=2.0,
                         write_clock=bool(options.get("write_clock", False))),
        )
        ble_config = DeviceConfig(
            name=self.config.name, transport="ble", kind=spec.profile.value,
            address=peripheral.address, quirk=self.config.quirk,
            options=types.MappingProxyType(options),
        )
        _LOGGER.info("device %s: simulated %s %s (%s) from %s", self.config.name,
                     spec.profile.value, spec.name, spec.quirk, spec.path)
        return _Running(air, peripheral, device_clock, started, BleRunner(ble_config))

    def _generate_due(self, running: _Running, now: datetime) -> None:
        """Measurements the device took since start-up (`[generate]`), added to its memory."""
        every = self.scenario.generate.every_s if self.scenario.generate else None
        if every is None:
            return
        due = int((now - running.started).total_seconds() // every)
        kind = self.scenario.profile
        from simulators.synthetic import synthetic_values

        peripheral = running.peripheral
        for n in range(running.generated + 1, due + 1):
            taken = running.clock.local_at(
                running.started + timedelta(seconds=n * every)
            ).replace(microsecond=0)
            values = synthetic_values(self.scenario.name, kind, n)
            if isinstance(peripheral, BpMonitor) and isinstance(values, BloodPressure):
                peripheral.records.append(
                    BpRecord(values.systolic_mmhg or 120.0, values.diastolic_mmhg or 80.0,
                             values.pulse_bpm, taken)
                )
            elif isinstance(peripheral, GlucoseMeter) and isinstance(values, Glucose):
                sequence = max((r.sequence for r in peripheral.records), default=0) + 1
                mgdl = values.glucose_mgdl or 100.0
                peripheral.records.append(
                    glucose_record(sequence, taken, mgdl, mmol=self.scenario.unit == "mmol/L")
                )
        running.generated = max(running.generated, due)

    async def run_once(self, ctx: DeviceContext) -> None:
        if self._running is None:
            self._running = self._start(ctx.clock)
        self._generate_due(self._running, ctx.clock())
        await self._running.ble.run_once(ctx)


def scenario_path(config: DeviceConfig, base_dir: Path | None = None) -> Path:
    """`options.scenario` as a path; a relative one is taken from `base_dir` (the config's)."""
    value = config.options.get("scenario")
    if not isinstance(value, str | Path) or not str(value):
        raise SimulatorConfigError(f"options.scenario: expected a file path, got {value!r}")
    path = Path(value).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


def make_scenario_runner(config: DeviceConfig) -> ScenarioRunner:
    return ScenarioRunner(config, parse_scenario(scenario_path(config)))


def prepare_scenario_config(config: DeviceConfig, base_dir: Path) -> DeviceConfig:
    """Checked when the gateway config is loaded (a core.devices.DeviceCheck): the scenario
    file is read and validated before anything starts, and a relative path is made absolute
    from the config file's directory."""
    path = scenario_path(config, base_dir)
    try:
        scenario = parse_scenario(path)
    except ScenarioError as exc:
        raise SimulatorConfigError(f"options.scenario: {exc}") from exc
    ScenarioRunner(config, scenario)  # the runner's own checks (kind against profile)
    return dataclasses.replace(
        config, options=types.MappingProxyType({**config.options, "scenario": str(path)})
    )
