"""Unit factors declared once: every driver, simulator and screen converts with these.

Readings are kept in mg/dL and mmHg (the original unit is kept beside them); mmol/L and kPa
exist only on the wire and on a meter's display.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

# Glucose: mg/dL per mmol/L, from the molar mass of glucose (180.16 g/mol). The rounder 18.0
# some meters print would shift a 20 mmol/L reading by 0.3 mg/dL.
MGDL_PER_MMOLL: Final = Decimal("18.016")
# Pressure: mmHg per kPa (133.322 Pa per mmHg).
MMHG_PER_KPA: Final = Decimal("7.50062")


def mmoll_to_mgdl(mmoll: float) -> float:
    """mmol/L -> mg/dL, unrounded (float arithmetic, for codecs that work in floats)."""
    return mmoll * float(MGDL_PER_MMOLL)


def mgdl_to_mmoll(mgdl: float) -> float:
    """mg/dL -> mmol/L, unrounded: what a meter set to mmol/L shows before its own rounding."""
    return mgdl / float(MGDL_PER_MMOLL)
