"""The identify step the resident and kader flows share: NIK + birth year -> what may be kept.

Only the keyed pseudonym, the NIK sealed for central, the masked NIK and what central's
screening cascade counts by (region, sex, age band) leave this function; the NIK itself and the
birth date stay in the request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from core.reading import Sex, age_band
from kiosk.deps import KioskSettings
from kiosk.nik import NikError, age_on, check_nik, mask_nik, normalise
from kiosk.privacy import pseudonym, seal

ADULT_AGE = 18
MIN_AGE = 15


@dataclass(frozen=True, slots=True)
class Identified:
    pseudonym: str
    sealed_nik: str
    masked_nik: str
    minor: bool  # 15-17: a guardian must consent too
    region: str  # the NIK's PPKKCC
    sex: Sex
    # On `today`: a resident visit and a kader's roster entry both end with the kiosk's day,
    # so this is the band on the day of every measurement they bind.
    age_band: str


class IdentifyError(ValueError):
    """The form does not identify a resident who may be screened; `key` is the message."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def identify_resident(
    form: Mapping[str, str], settings: KioskSettings, today: dt.date
) -> Identified:
    """Check the form's `nik` and `birth_year`. Raises IdentifyError."""
    year_text = form.get("birth_year", "").strip()
    year = int(year_text) if year_text.isdigit() and len(year_text) == 4 else None
    raw = form.get("nik", "")
    try:
        info = check_nik(raw, year, today=today)
    except NikError as exc:
        raise IdentifyError(f"nik_{exc.problem.value}") from exc
    age = age_on(info.birth_date, today)
    if age < MIN_AGE:
        raise IdentifyError("too_young")
    return Identified(
        pseudonym=pseudonym(raw, settings.programme_key),
        sealed_nik=seal(normalise(raw), settings.central_public_key),
        masked_nik=mask_nik(raw),
        minor=age < ADULT_AGE,
        region=info.region,
        sex=Sex.FEMALE if info.female else Sex.MALE,
        age_band=age_band(age),
    )
