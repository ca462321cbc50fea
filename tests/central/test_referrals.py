"""The worklist built from stored readings: filing, linking by pseudonym, idempotence, due
dates, overdue, transitions and scoping (both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa

from central.referral_rules import ReferralRules, Severity
from central.referrals import (
    ReferralBook,
    ReferralError,
    Status,
    TransitionRefused,
    referral_readings,
    referrals,
)
from central.store import upgrade_schema
from central.wilayah import parse_wilayah
from tests.central_web.helpers import EpochClock

from .referral_helpers import DAY_0, screening, store_all

WILAYAH = parse_wilayah(
    {
        "kecamatan": [{"code": "647101", "name": "Balikpapan Tengah"}],
        "kelurahan": [
            {"code": "6471011001", "name": "Karang Jati", "kecamatan": "647101"},
            {"code": "6471011002", "name": "Gunung Sari Ilir", "kecamatan": "647101"},
        ],
        "site": [
            {"id": "site-a1", "name": "Kios Karang Jati", "kelurahan": "6471011001"},
            {"id": "site-a2", "name": "Kios Gunung Sari", "kelurahan": "6471011002"},
        ],
    }
)


@pytest.fixture
def engine(central_db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(central_db_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> EpochClock:
    clock = EpochClock()
    clock.advance(DAY_0.timestamp() - clock())
    return clock


def book(engine: sa.Engine, clock: EpochClock, rules: ReferralRules | None = None) -> ReferralBook:
    return ReferralBook(engine, clock, WILAYAH, rules)


def test_positives_are_filed_by_severity_with_due_dates(
    engine: sa.Engine, clock: EpochClock, central_db_url: str
) -> None:
    store_all(
        central_db_url,
        [
            screening(1, "ani", bp=(118, 76)),  # normal: nobody to call
            screening(2, "budi", bp=(190, 100)),  # crisis: today
            screening(3, "cici", glucose=230),  # suspected diabetes: a week
            screening(4, "dedi", bp=(145, 85), site_id="site-a2"),  # grade 1: a month
            screening(5, "eka", bp=(200, 120), site_id="nowhere"),  # no known kelurahan
        ],
    )
    worklist = book(engine, clock)
    assert worklist.refresh() == 4
    found = {r.pseudonym[:4]: r for r in worklist.worklist(sa.true())}
    assert len(found) == 4
    by_due = [(r.severity, r.due_date, r.kelurahan) for r in worklist.worklist(sa.true())]
    # DAY_0 is 09:00 WITA on 2 November.
    assert by_due == [
        (Severity.URGENT, date(2026, 11, 2), "6471011001"),
        (Severity.URGENT, date(2026, 11, 2), None),
        (Severity.SOON, date(2026, 11, 9), "6471011001"),
        (Severity.ROUTINE, date(2026, 12, 2), "6471011002"),
    ]
    assert all(r.status is Status.NEW and not r.overdue for r in worklist.worklist(sa.true()))


def test_refresh_is_idempotent_and_links_visits_by_pseudonym(
    engine: sa.Engine, clock: EpochClock, central_db_url: str
) -> None:
    worklist = book(engine, clock)
    store_all(central_db_url, [screening(1, "budi", bp=(145, 92))])
    assert worklist.refresh() == 1
    assert worklist.refresh() == 0  # nothing new: nothing doubled
    # A week later the same resident is worse: the open referral takes the new reading,
    # its severity and its earlier due date.
    clock.advance(7 * 86400)
    store_all(central_db_url, [screening(2, "budi", bp=(170, 95), day=7)])
    assert worklist.refresh() == 1
    assert worklist.refresh() == 0
    (only,) = worklist.worklist(sa.true())
    assert only.episode == 1
    assert only.severity is Severity.SOON
    assert only.due_date == date(2026, 11, 16)  # the grade 2 week, not grade 1's month
    assert [r.severity for r in worklist.readings_of(only.id)] == [
        Severity.ROUTINE,
        Severity.SOON,
    ]
    # Forgetting the scan's mark (a restored backup) re-reads everything and still files
    # nothing twice.
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM referral_scan"))
    assert worklist.refresh() == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(referrals)).scalar() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(referral_readings)).scalar() == 2


def test_a_closed_referral_starts_a_new_episode(
    engine: sa.Engine, clock: EpochClock, central_db_url: str
) -> None:
    worklist = book(engine, clock)
    store_all(central_db_url, [screening(1, "budi", glucose=250)])
    worklist.refresh()
    (first,) = worklist.worklist(sa.true())
    for status in ("contacted", "came", "confirmed"):
        worklist.change(first.id, status, "budi-staff")
    store_all(central_db_url, [screening(2, "budi", glucose=260, day=40)])
    worklist.refresh()
    episodes = sorted((r.episode, r.status) for r in worklist.worklist(sa.true()))
    assert episodes == [(1, Status.CONFIRMED), (2, Status.NEW)]


def test_overdue_sorts_first_and_only_while_open(
    engine: sa.Engine, clock: EpochClock, central_db_url: str
) -> None:
    worklist = book(engine, clock)
    store_all(
        central_db_url,
        [screening(1, "ani", bp=(145, 85)), screening(2, "budi", bp=(165, 85), day=5)],
    )
    worklist.refresh()
    clock.advance(13 * 86400)  # budi's week has passed, ani's month has not
    order = [(r.pseudonym, r.overdue) for r in worklist.worklist(sa.true())]
    assert [o for _, o in order] == [True, False]
    overdue = worklist.worklist(sa.true())[0]
    worklist.change(overdue.id, "declined", "staff", "tidak mau datang")
    assert not any(r.overdue for r in worklist.worklist(sa.true()))


def test_transitions_are_checked_and_kept(
    engine: sa.Engine, clock: EpochClock, central_db_url: str
) -> None:
    worklist = book(engine, clock)
    store_all(central_db_url, [screening(1, "budi", bp=(190, 90))])
    worklist.refresh()
    (referral,) = worklist.worklist(sa.true())
    with pytest.raises(TransitionRefused, match="'new' cannot move to 'confirmed'"):
        worklist.change(referral.id, "confirmed", "staff")
    with pytest.raises(ReferralError, match="not a referral status"):
        worklist.change(referral.id, "lost", "staff")
    worklist.change(referral.id, "contacted", "staff", "ditelepon, akan datang besok")
    worklist.add_note(referral.id, "staff", "keluarga mengantar")
    worklist.change(referral.id, "came", "staff")
    done = worklist.change(referral.id, "not_confirmed", "staff")
    assert done.status is Status.NOT_CONFIRMED and not done.open
    assert done.notes == "ditelepon, akan datang besok\nkeluarga mengantar"
    with pytest.raises(TransitionRefused, match="closed"):
        worklist.change(referral.id, "contacted", "staff")
    kinds = [(e.kind, e.from_status, e.to_status) for e in worklist.events_of(referral.id)]
    assert kinds == [
        ("opened", None, "new"),
        ("status", "new", "contacted"),
        ("note", None, None),
        ("status", "contacted", "came"),
        ("status", "came", "not_confirmed"),
    ]


def test_filters_and_scope(engine: sa.Engine, clock: EpochClock, central_db_url: str) -> None:
    worklist = book(engine, clock)
    store_all(
        central_db_url,
        [
            screening(1, "ani", bp=(190, 90)),
            screening(2, "budi", bp=(145, 85), site_id="site-a2"),
            screening(3, "cici", glucose=40, site_id="site-a2"),
        ],
    )
    worklist.refresh()
    a2 = referrals.c.kelurahan.in_(["6471011002"])
    assert len(worklist.worklist(a2)) == 2
    assert [r.severity for r in worklist.worklist(a2, severities=[Severity.URGENT])] == [
        Severity.URGENT
    ]
    assert worklist.worklist(a2, statuses=[Status.CONTACTED]) == []


def test_due_days_are_configurable(
    engine: sa.Engine, clock: EpochClock, central_db_url: str
) -> None:
    rules = ReferralRules(due_days={Severity.URGENT: 1, Severity.SOON: 3, Severity.ROUTINE: 14})
    worklist = book(engine, clock, rules)
    store_all(central_db_url, [screening(1, "ani", bp=(145, 85))])
    worklist.refresh()
    assert worklist.worklist(sa.true())[0].due_date == date(2026, 11, 16)
