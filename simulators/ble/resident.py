"""A simulated resident using the simulated meters: adds a fresh measurement to a meter's memory.

Used by the demo (a measurement every so often, and on the kiosk's "measure" request) so the
chain shows new readings arriving, not only the meters' stored memory. A trainer can choose
the values (`gempita demo measure`): `ChosenBp` / `ChosenGlucose` become records encoded as the
Blood Pressure and Glucose profiles encode them, so the gateway's real sessions decode the
HI/LO status, the control-solution sample type and the meal context, as from a real meter.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from core.reading import Kind
from drivers.ble.glucose import MEALS
from simulators.ble.backend import Air
from simulators.ble.devices import BpMonitor, BpRecord, GlucoseMeter, glucose_record

_LOGGER = logging.getLogger(__name__)

# Glucose Measurement Context meal codes (drivers/ble/glucose.py MEALS).
MEAL_FASTING = next(code for code, name in MEALS.items() if name == "fasting")

# What a monitor or meter can show; outside this a real one shows an error, not a result.
SYSTOLIC_RANGE = (60, 260)
DIASTOLIC_RANGE = (30, 200)
PULSE_RANGE = (30, 220)
GLUCOSE_RANGE = (20, 600)  # mg/dL; below: "LO", above: "HI" on a typical meter
CONTROL_SOLUTION_MGDL = 120.0  # a mid-range control solution's expected value


def _check_range(what: str, value: float, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ValueError(f"{what} {value:g} outside {low}-{high}")


@dataclass(frozen=True, slots=True)
class ChosenBp:
    """A blood-pressure result the trainer chose, in mmHg (pulse in beats per minute)."""

    systolic: float
    diastolic: float
    pulse: float | None = None

    def __post_init__(self) -> None:
        _check_range("systolic", self.systolic, SYSTOLIC_RANGE)
        _check_range("diastolic", self.diastolic, DIASTOLIC_RANGE)
        if self.systolic <= self.diastolic:
            raise ValueError("systolic must be above diastolic")
        if self.pulse is not None:
            _check_range("pulse", self.pulse, PULSE_RANGE)

    @property
    def kind(self) -> Kind:
        return Kind.BLOOD_PRESSURE


@dataclass(frozen=True, slots=True)
class ChosenGlucose:
    """A glucose test the trainer chose: a value in mg/dL, or the meter's HI or LO.

    `fasting` puts the Glucose Measurement Context's meal code "fasting" (3) on the record;
    without it the record has no context, so the resident's answer on the kiosk applies (the
    binder fills an absent meal from the claim). `control_solution` marks the sample type as
    the profile does (type 10, location 4): the gateway must not take it for a resident's.
    """

    mgdl: float | None = None
    hi: bool = False
    lo: bool = False
    fasting: bool = False
    control_solution: bool = False

    def __post_init__(self) -> None:
        given = (self.mgdl is not None) + self.hi + self.lo
        # A control-solution test may leave the value out: the solution's expected value.
        if given > 1 or (given == 0 and not self.control_solution):
            raise ValueError("give exactly one of a value, HI or LO")
        if self.mgdl is not None:
            _check_range("glucose", self.mgdl, GLUCOSE_RANGE)

    @property
    def kind(self) -> Kind:
        return Kind.GLUCOSE

    @property
    def value_mgdl(self) -> float | None:
        """The concentration the meter stores (None for HI/LO)."""
        if self.hi or self.lo:
            return None
        if self.mgdl is None:
            return CONTROL_SOLUTION_MGDL
        return self.mgdl


Chosen = ChosenBp | ChosenGlucose


def take_measurement(air: Air, kind: Kind, rng: random.Random) -> bool:
    """Store a new plausible measurement on the first meter of `kind`. False if none."""
    if kind is Kind.BLOOD_PRESSURE:
        systolic = float(rng.choice((112, 124, 133, 146, 162, 185)) + rng.randint(-3, 3))
        diastolic = float(round(systolic * 0.62) + rng.randint(-4, 4))
        return take_chosen(air, ChosenBp(systolic, diastolic, float(rng.randint(60, 95))))
    mgdl = float(rng.choice((84, 97, 118, 156, 212, 268)) + rng.randint(-4, 4))
    return take_chosen(air, ChosenGlucose(mgdl), meal=rng.choice((1, 2, 4)))


def take_chosen(air: Air, chosen: Chosen, *, meal: int | None = None) -> bool:
    """Store `chosen` as the newest record of the first meter of its kind. False if none.

    `meal` overrides the meal code for a glucose record (the random resident's choice).
    """
    for peripheral in air.peripherals:
        if isinstance(chosen, ChosenBp) and isinstance(peripheral, BpMonitor):
            taken = peripheral.clock.local_now().replace(microsecond=0)
            peripheral.records.append(
                BpRecord(chosen.systolic, chosen.diastolic, chosen.pulse, taken)
            )
            return True
        if isinstance(chosen, ChosenGlucose) and isinstance(peripheral, GlucoseMeter):
            taken = peripheral.clock.local_now().replace(microsecond=0)
            sequence = max((r.sequence for r in peripheral.records), default=0) + 1
            if meal is None and chosen.fasting:
                meal = MEAL_FASTING
            peripheral.records.append(
                glucose_record(
                    sequence,
                    taken,
                    chosen.value_mgdl,
                    meal=meal,
                    hi=chosen.hi,
                    lo=chosen.lo,
                    control_solution=chosen.control_solution,
                )
            )
            return True
    return False


class Placed(StrEnum):
    MEMORY = "memory"  # in the meter's memory now: the next stored reading
    KIOSK = "kiosk"  # held until the kiosk's next "measure" request of its kind


class NoMeterError(Exception):
    """The demo has no simulated meter of the chosen kind."""


class DemoResident:
    """The demo's simulated residents: random ones, and the values a trainer chose.

    A chosen value goes into the meter's memory at once (`Placed.MEMORY`), unless the trainer
    asked to hold it for the kiosk (`Placed.KIOSK`): then the kiosk's next "measure" request of
    that kind takes it instead of a random value.
    """

    def __init__(self, air: Air, rng: random.Random) -> None:
        self._air = air
        self._rng = rng
        self._held: dict[Kind, deque[Chosen]] = {Kind.BLOOD_PRESSURE: deque(),
                                                 Kind.GLUCOSE: deque()}

    def has_meter(self, kind: Kind) -> bool:
        wanted = BpMonitor if kind is Kind.BLOOD_PRESSURE else GlucoseMeter
        return any(isinstance(p, wanted) for p in self._air.peripherals)

    def choose(self, chosen: Chosen, *, at_kiosk: bool = False) -> Placed:
        if not self.has_meter(chosen.kind):
            raise NoMeterError(chosen.kind.value)
        if at_kiosk:
            self._held[chosen.kind].append(chosen)
            return Placed.KIOSK
        take_chosen(self._air, chosen)
        return Placed.MEMORY

    def held(self, kind: Kind) -> int:
        return len(self._held[kind])

    def on_kiosk_request(self, kind: str) -> None:
        """The kiosk's `request_measurement` hook: the resident at the kiosk measures now."""
        held = self._held[Kind(kind)]
        if held:
            take_chosen(self._air, held.popleft())
            _LOGGER.info("kiosk measurement of %s: the trainer's chosen value", kind)
        else:
            take_measurement(self._air, Kind(kind), self._rng)

    def random_measurement(self) -> None:
        """Somebody measures themselves now and then (the background resident)."""
        take_measurement(self._air, self._rng.choice((Kind.BLOOD_PRESSURE, Kind.GLUCOSE)),
                         self._rng)
