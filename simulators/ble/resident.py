"""A simulated resident using the simulated meters: adds a fresh measurement to a meter's memory.

Used by the demo (a measurement every so often, and on the kiosk's "measure" request) so the
chain shows new readings arriving, not only the meters' stored memory.
"""

from __future__ import annotations

import random

from core.reading import Kind
from simulators.ble.backend import Air
from simulators.ble.devices import BpMonitor, BpRecord, GlucoseMeter, glucose_record


def take_measurement(air: Air, kind: Kind, rng: random.Random) -> bool:
    """Store a new plausible measurement on the first meter of `kind`. False if none."""
    for peripheral in air.peripherals:
        if kind is Kind.BLOOD_PRESSURE and isinstance(peripheral, BpMonitor):
            taken = peripheral.clock.local_now().replace(microsecond=0)
            systolic = float(rng.choice((112, 124, 133, 146, 162, 185)) + rng.randint(-3, 3))
            diastolic = float(round(systolic * 0.62) + rng.randint(-4, 4))
            peripheral.records.append(
                BpRecord(systolic, diastolic, float(rng.randint(60, 95)), taken)
            )
            return True
        if kind is Kind.GLUCOSE and isinstance(peripheral, GlucoseMeter):
            taken = peripheral.clock.local_now().replace(microsecond=0)
            sequence = max((r.sequence for r in peripheral.records), default=0) + 1
            mgdl = float(rng.choice((84, 97, 118, 156, 212, 268)) + rng.randint(-4, 4))
            peripheral.records.append(
                glucose_record(sequence, taken, mgdl, meal=rng.choice((1, 2, 4)))
            )
            return True
    return False
