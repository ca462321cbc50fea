from __future__ import annotations

import datetime as dt

import pytest

from kiosk.nik import NikError, NikInfo, NikProblem, age_on, check_nik, mask_nik

TODAY = dt.date(2026, 11, 27)


@pytest.mark.parametrize(
    ("nik", "year", "expected"),
    [
        ("6471031708850003", 1985, NikInfo(dt.date(1985, 8, 17), False, "64", "647103")),
        ("3171044302000121", 2000, NikInfo(dt.date(2000, 2, 3), True, "31", "317104")),
        # Issued far from Balikpapan: accepted (old and new Papua codes too).
        ("9171010101900001", 1990, NikInfo(dt.date(1990, 1, 1), False, "91", "917101")),
        ("9601017112990009", 1999, NikInfo(dt.date(1999, 12, 31), True, "96", "960101")),
        ("1101010101260001", 1926, NikInfo(dt.date(1926, 1, 1), False, "11", "110101")),
        # 29 February in a leap year, written with spaces and dots.
        ("6471 03 290204 0001", 2004, NikInfo(dt.date(2004, 2, 29), False, "64", "647103")),
        ("6471.03.690204.0001", 2004, NikInfo(dt.date(2004, 2, 29), True, "64", "647103")),
        # Women's day ends at 71.
        ("6471037112800001", 1980, NikInfo(dt.date(1980, 12, 31), True, "64", "647103")),
    ],
)
def test_valid_niks(nik: str, year: int, expected: NikInfo) -> None:
    assert check_nik(nik, year, today=TODAY) == expected


@pytest.mark.parametrize(
    ("nik", "year", "problem"),
    [
        ("647103170885000", 1985, NikProblem.FORMAT),  # 15 digits
        ("64710317088500031", 1985, NikProblem.FORMAT),  # 17 digits
        ("6471031708850O03", 1985, NikProblem.FORMAT),  # letter O
        ("６４７１031708850003", 1985, NikProblem.FORMAT),  # full-width digits
        ("", 1985, NikProblem.FORMAT),
        ("1001031708850003", 1985, NikProblem.PROVINCE),
        ("2071031708850003", 1985, NikProblem.PROVINCE),
        ("9971031708850003", 1985, NikProblem.PROVINCE),
        ("6471030008850003", 1985, NikProblem.DATE),  # day 00
        ("6471033208850003", 1985, NikProblem.DATE),  # day 32
        ("6471034008850003", 1985, NikProblem.DATE),  # day 40 (= woman's day 0)
        ("6471037208850003", 1985, NikProblem.DATE),  # day 72
        ("6471031700850003", 1985, NikProblem.DATE),  # month 00
        ("6471031713850003", 1985, NikProblem.DATE),  # month 13
        ("6471033104850003", 1985, NikProblem.DATE),  # 31 April
        ("6471032902010001", 2001, NikProblem.DATE),  # 29 Feb, common year
        ("6471031708850000", 1985, NikProblem.SERIAL),
        ("6471031708850003", 1986, NikProblem.YEAR),  # does not match YY
        ("6471031708850003", None, NikProblem.YEAR),
        ("6471031708850003", 1885, NikProblem.YEAR),  # over 120 years old
        ("6471031708270003", 2027, NikProblem.YEAR),  # future year
        ("6471032812260003", 2026, NikProblem.YEAR),  # later this year: not born yet
    ],
)
def test_invalid_niks(nik: str, year: int | None, problem: NikProblem) -> None:
    with pytest.raises(NikError) as caught:
        check_nik(nik, year, today=TODAY)
    assert caught.value.problem is problem
    assert nik not in str(caught.value) or not nik  # the error never repeats the NIK


@pytest.mark.parametrize(
    ("born", "age"),
    [
        (dt.date(2011, 11, 27), 15),  # birthday today
        (dt.date(2011, 11, 28), 14),  # birthday tomorrow
        (dt.date(2008, 11, 28), 17),
        (dt.date(2008, 11, 27), 18),
    ],
)
def test_age_on(born: dt.date, age: int) -> None:
    assert age_on(born, TODAY) == age


def test_mask_hides_the_birth_date() -> None:
    assert mask_nik("6471 0317 0885 0003") == "6471 •••• •••• 0003"
    assert mask_nik("123") == "••••••••••••••••"
