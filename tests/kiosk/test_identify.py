"""What the identify step derives for central's screening cascade: region, sex and age band.

The NIK's day carries sex (women: day + 40), its first six digits the region of issue; the age
band is the completed age on the kiosk's day, so it changes exactly on a birthday. Nothing
finer than the band and the region leaves the step.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from core.reading import Sex
from kiosk.identify import Identified, IdentifyError, identify_resident

from .helpers import NIK_MAN, NIK_WOMAN, make_settings

SETTINGS = make_settings()


def who(nik: str, year: int, today: dt.date) -> Identified:
    return identify_resident({"nik": nik, "birth_year": str(year)}, SETTINGS, today)


@pytest.mark.parametrize(
    ("nik", "year", "region", "sex"),
    [
        (NIK_MAN, 1985, "647103", Sex.MALE),  # day 17: a man
        (NIK_WOMAN, 2000, "317104", Sex.FEMALE),  # day 43 = 3 + 40: a woman
        ("6471024112800001", 1980, "647102", Sex.FEMALE),  # day 41: a woman's 1st
        ("6471023112800001", 1980, "647102", Sex.MALE),  # day 31: a man's 31st
        ("6471027112800001", 1980, "647102", Sex.FEMALE),  # day 71: a woman's 31st
        ("9601010101900001", 1990, "960101", Sex.MALE),  # issued in Papua: kept as issued
        ("6471 02.17-08 85 0003", 1985, "647102", Sex.MALE),  # typed with separators
    ],
)
def test_region_and_sex_come_from_the_nik(nik: str, year: int, region: str, sex: Sex) -> None:
    got = who(nik, year, dt.date(2026, 11, 27))
    assert (got.region, got.sex) == (region, sex)


@pytest.mark.parametrize(
    ("today", "band"),
    [
        # Born 17-08-1985 (NIK_MAN): the band moves on the birthday, not a day before.
        (dt.date(2025, 8, 16), "30-39"),
        (dt.date(2025, 8, 17), "40-49"),
        (dt.date(2035, 8, 16), "40-49"),
        (dt.date(2035, 8, 17), "50-59"),
        (dt.date(2045, 8, 17), "60-69"),
        (dt.date(2055, 8, 16), "60-69"),
        (dt.date(2055, 8, 17), "70+"),
        (dt.date(2085, 8, 17), "70+"),
        (dt.date(2005, 8, 16), "15-19"),  # 19
        (dt.date(2005, 8, 17), "20-29"),
        (dt.date(2015, 8, 16), "20-29"),  # 29
        (dt.date(2015, 8, 17), "30-39"),
    ],
)
def test_age_band_is_the_age_on_the_day(today: dt.date, band: str) -> None:
    assert who(NIK_MAN, 1985, today).age_band == band


def test_the_youngest_band_starts_on_the_15th_birthday_and_younger_is_refused() -> None:
    # Born 12-05-2010.
    nik = "6471021205100007"
    assert who(nik, 2010, dt.date(2025, 5, 12)).age_band == "15-19"
    with pytest.raises(IdentifyError) as caught:
        who(nik, 2010, dt.date(2025, 5, 11))
    assert caught.value.key == "too_young"


def test_a_womans_birthday_is_read_from_day_minus_40() -> None:
    # NIK_WOMAN: born 03-02-2000, written as day 43.
    assert who(NIK_WOMAN, 2000, dt.date(2040, 2, 2)).age_band == "30-39"
    assert who(NIK_WOMAN, 2000, dt.date(2040, 2, 3)).age_band == "40-49"


def test_nothing_that_identifies_a_person_leaves_the_step() -> None:
    got = who(NIK_WOMAN, 2000, dt.date(2026, 11, 27))
    # The keyed and sealed forms are the privacy tests' business; the new fields are plain.
    derived = f"{got.region}|{got.sex}|{got.age_band}|{got.minor}"
    assert derived == "317104|female|20-29|False"
    assert {f.name for f in dataclasses.fields(Identified)} == {
        "pseudonym",
        "sealed_nik",
        "masked_nik",
        "minor",
        "region",
        "sex",
        "age_band",
    }
