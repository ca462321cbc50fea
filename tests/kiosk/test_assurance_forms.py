"""The assurance form shared by the operator and kader pages, without a web app."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.assurance import ControlRange, ControlResult, Entries
from core.clock import site_zone
from kiosk.assurance_forms import (
    EntryError,
    device_state,
    expired_on_save,
    form_values,
    parse_entries,
    qc_rows,
)

FULL = {
    "calibration_due": "2027-03-01",
    "strip_lot": "  S-77  ",
    "strip_expires": "2027-01-31",
    "control_low": "100,5",
    "control_high": "140",
    "control_lot": "CV-9",
    "control_expires": "01-05-2027",
}


def test_a_full_form_reads_and_round_trips() -> None:
    entries = parse_entries(FULL)
    assert entries == Entries(
        calibration_due=date(2027, 3, 1),
        strip_lot="S-77",
        strip_expires=date(2027, 1, 31),
        control=ControlRange(100.5, 140.0, lot="CV-9", expires=date(2027, 5, 1)),
    )
    assert parse_entries(form_values(entries)) == entries


def test_an_empty_form_clears_everything() -> None:
    assert parse_entries({}) == Entries()
    assert form_values(Entries()) == dict.fromkeys(form_values(Entries()), "")


@pytest.mark.parametrize(
    ("change", "key", "field"),
    [
        ({"control_low": "150"}, "mutu_range_order", None),
        ({"control_low": ""}, "mutu_range_missing", None),
        ({"control_low": "", "control_high": ""}, "mutu_range_missing", None),  # lot left
        ({"control_high": "abc"}, "mutu_range_number", "control_high"),
        ({"control_high": "inf"}, "mutu_range_number", "control_high"),
        ({"control_low": "nan"}, "mutu_range_number", "control_low"),
        ({"control_low": "-5"}, "mutu_range_positive", None),
        ({"strip_expires": "31-02-2027"}, "mutu_bad_date", "strip_expires"),
        ({"calibration_due": "2027/13/01"}, "mutu_bad_date", "calibration_due"),
        ({"control_expires": "Mei 2027"}, "mutu_bad_date", "control_expires"),
    ],
)
def test_values_that_cannot_be_data_are_refused(
    change: dict[str, str], key: str, field: str | None
) -> None:
    with pytest.raises(EntryError) as caught:
        parse_entries({**FULL, **change})
    assert (caught.value.key, caught.value.field) == (key, field)
    # Every message renders in both languages with what it names filled in.
    for lang in ("id", "en"):
        assert "{" not in caught.value.message(lang)


def test_the_message_names_the_field_and_the_value() -> None:
    with pytest.raises(EntryError) as caught:
        parse_entries({**FULL, "strip_expires": "besok"})
    assert caught.value.message("id").startswith('Strip kedaluwarsa: tanggal "besok"')
    assert caught.value.message("en").startswith('Strips expire: the date "besok"')


def test_an_expiry_in_the_past_is_data_and_is_noticed() -> None:
    entries = parse_entries({**FULL, "strip_expires": "2020-01-01"})
    assert entries.strip_expires == date(2020, 1, 1)
    today = date(2026, 11, 27)
    assert expired_on_save(entries, today)
    assert not expired_on_save(parse_entries(FULL), today)
    vial = parse_entries({**FULL, "control_expires": "2026-11-26"})
    assert expired_on_save(vial, today)
    assert not expired_on_save(Entries(), today)


def test_device_state_lists_the_flagging_reasons_first_and_keeps_unknown_codes() -> None:
    row = {
        "name": "glucose",
        "kind": "glucose",
        "battery_pct": 9,
        "assurance": {
            "status": "out_of_policy",
            "reasons": ["strips_not_entered", "battery_critical", "from_a_newer_gateway"],
        },
    }
    state = device_state(row, "id")
    assert state.out_of_policy and state.status_label == "Alat perlu diperiksa"
    assert state.reasons == (
        "Baterai hampir habis",
        "Lot dan kedaluwarsa strip belum diisi",
        "from_a_newer_gateway",
    )
    assert state.battery_pct == 9
    bare = device_state({"name": "x", "kind": "oven", "battery_pct": True}, "en")
    assert (bare.kind, bare.status, bare.status_label, bare.battery_pct) == (
        None,
        None,
        "Not judged",
        None,
    )


def test_qc_rows_are_newest_first_in_the_site_zone() -> None:
    log = (
        ControlResult("a", datetime(2026, 11, 26, 1, 0, tzinfo=UTC), 120.0, True),
        ControlResult("b", datetime(2026, 11, 26, 23, 30, tzinfo=UTC), None, False),
        ControlResult("c", datetime(2026, 11, 25, 1, 0, tzinfo=UTC), 99.0, None),
    )
    rows = qc_rows(log, site_zone("Asia/Makassar"))
    assert [(r.when, r.value, r.result) for r in rows] == [
        ("27-11-2026 07:30", "HI/LO", "mutu_qc_fail"),
        ("26-11-2026 09:00", "120.0", "mutu_qc_pass"),
        ("25-11-2026 09:00", "99.0", "mutu_qc_unjudged"),
    ]
    assert len(qc_rows(log, site_zone("Asia/Makassar"), 2)) == 2
