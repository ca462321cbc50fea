"""Offline plausibility checks for a NIK (Nomor Induk Kependudukan).

Layout `PPKKCC DDMMYY SSSS`: province, regency/city and district where the NIK was *issued*,
the birth date (women: day + 40, two-digit year) and a serial. There is no check digit, so this
can only catch typing mistakes; it never rejects a NIK issued outside Balikpapan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

# Kemendagri province codes, old and new: a NIK keeps the code it was issued under, so the
# Papua codes from before and after the 2022 split are all valid.
PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15", "16", "17", "18", "19", "21",
        "31", "32", "33", "34", "35", "36",
        "51", "52", "53",
        "61", "62", "63", "64", "65",
        "71", "72", "73", "74", "75", "76",
        "81", "82",
        "91", "92", "93", "94", "95", "96",
    }
)  # fmt: skip

MAX_AGE_YEARS = 120


class NikProblem(StrEnum):
    """Why a NIK was refused; each has a text key `nik_<value>` in kiosk.i18n."""

    FORMAT = "format"  # not 16 digits
    PROVINCE = "province"
    DATE = "date"  # day/month impossible
    SERIAL = "serial"
    YEAR = "year"  # birth year missing, implausible or not matching the NIK


class NikError(ValueError):
    def __init__(self, problem: NikProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class NikInfo:
    birth_date: dt.date
    female: bool
    province: str
    region: str  # province + regency/city + kecamatan of issue (PPKKCC)


def normalise(raw: str) -> str:
    """Digits only: people type spaces, dots or dashes between the groups."""
    return "".join(ch for ch in raw if not ch.isspace() and ch not in ".-")


def check_nik(raw: str, birth_year: int | None, *, today: dt.date) -> NikInfo:
    """Validate a NIK; `birth_year` resolves the two-digit year. Raises NikError."""
    nik = normalise(raw)
    if len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        raise NikError(NikProblem.FORMAT)
    if nik[:2] not in PROVINCE_CODES:
        raise NikError(NikProblem.PROVINCE)
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    female = day > 40
    if female:
        day -= 40
    if not (1 <= day <= 31 and 1 <= month <= 12):
        raise NikError(NikProblem.DATE)
    if nik[12:] == "0000":
        raise NikError(NikProblem.SERIAL)
    if birth_year is None or birth_year % 100 != yy:
        raise NikError(NikProblem.YEAR)
    if not (today.year - MAX_AGE_YEARS <= birth_year <= today.year):
        raise NikError(NikProblem.YEAR)
    try:
        born = dt.date(birth_year, month, day)
    except ValueError as exc:  # 31 April, 29 February of a common year
        raise NikError(NikProblem.DATE) from exc
    if born > today:
        raise NikError(NikProblem.YEAR)
    return NikInfo(birth_date=born, female=female, province=nik[:2], region=nik[:6])


def age_on(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def mask_nik(raw: str) -> str:
    """What a screen may show: the issuing region and the serial, never the birth date."""
    nik = normalise(raw)
    if len(nik) != 16:
        return "•" * 16
    return f"{nik[:4]} •••• •••• {nik[12:]}"
