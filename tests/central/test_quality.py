"""central/quality.py's aggregates on both backends, from seeds whose counts are worked out by
hand (the table in SEEDS), through central's own store; and the store's duplicate counter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import orjson
import pytest
import sqlalchemy as sa

from central.cascade import DEFAULT_ZONE, Period, window
from central.fleet_store import fleet_gateways
from central.fleet_views import data_quality
from central.quality import (
    ALL_TIME,
    QualityQueries,
    QualityRow,
    Span,
    span_of,
    total,
)
from central.store import CentralStore, Incoming, dead_letters, duplicates_received, readings
from core.payload import to_payload
from core.reading import (
    SCHEMA_READING_V1,
    Assurance,
    AssuranceStatus,
    BloodPressure,
    DeviceIdentity,
    Glucose,
    Kind,
    Reading,
    Subject,
    TimeQuality,
    Transport,
)

SYNCED, DEVICE = TimeQuality.SYNCED, TimeQuality.DEVICE_CLOCK
RECEIVE, UNKNOWN = TimeQuality.GATEWAY_RECEIVE, TimeQuality.UNKNOWN
DECEMBER = datetime(2026, 12, 2, 3, 0, tzinfo=UTC).timestamp()
# 00:30 on 1 December in Balikpapan (WITA, UTC+8): December there, still November in UTC.
DECEMBER_FIRST_LOCAL = datetime(2026, 11, 30, 16, 30, tzinfo=UTC).timestamp()
# 23:30 on 30 November in Balikpapan.
NOVEMBER = datetime(2026, 11, 30, 15, 30, tzinfo=UTC).timestamp()
MONTH = span_of(window(Period.MONTH, date(2026, 12, 2)), DEFAULT_ZONE)
SITES = {"gw-a": "kios-sepinggan", "gw-b": "kios-manggar"}  # gw-x has no fleet row


@dataclass(frozen=True, slots=True)
class Seed:
    gateway: str
    device: str
    time: TimeQuality = SYNCED
    bound: bool = True
    glucose: bool = False
    control: bool = False
    hi: bool = False
    lo: bool = False
    policy: AssuranceStatus | None = AssuranceStatus.OK
    v1: bool = False
    received: float = DECEMBER


SEEDS = (
    Seed("gw-a", "bp-1"),  # 1: nothing wrong
    Seed("gw-a", "bp-1", time=RECEIVE),  # 2
    Seed("gw-a", "bp-1", time=UNKNOWN, bound=False),  # 3
    Seed("gw-a", "bp-1", policy=AssuranceStatus.OUT_OF_POLICY),  # 4
    Seed("gw-a", "gl-1", glucose=True, control=True, bound=False),  # 5
    Seed("gw-a", "gl-1", glucose=True, hi=True, time=DEVICE),  # 6
    # 7: from a gateway not yet updated (v1: no assurance), on the city's 1 December.
    Seed("gw-a", "gl-1", glucose=True, lo=True, time=RECEIVE, v1=True,
         received=DECEMBER_FIRST_LOCAL),
    Seed("gw-a", "gl-1", glucose=True, time=UNKNOWN, received=NOVEMBER),  # 8: not December
    Seed("gw-b", "gl-2", glucose=True, hi=True, bound=False,
         policy=AssuranceStatus.OUT_OF_POLICY),  # 9
    Seed("gw-b", "bp-2"),  # 10
    Seed("gw-x", "bp-9", time=UNKNOWN, policy=AssuranceStatus.UNKNOWN),  # 11
)  # fmt: skip
LATER = Seed("gw-b", "bp-2")  # 12: arrives with a resent copy of 10
DEAD = (
    ("gempita/v1/gw-a/readings", DECEMBER),
    ("gempita/v1/gw-a/readings", DECEMBER),
    ("gempita/v1/gw-a/readings", NOVEMBER),
    ("gempita/v1/gw_a/readings", DECEMBER),  # gw_a: another gateway, not a LIKE wildcard
    ("gempita/v1/gw-z/readings", DECEMBER),  # known only from its dead letter
    ("gempita/v1/gw-b/status/extra", DECEMBER),  # not a gateway topic: nobody's
    ("elsewhere/gw-b/readings", DECEMBER),  # nobody's
    ("gempita/v1//readings", DECEMBER),  # nobody's
)


def incoming(n: int, s: Seed) -> Incoming:
    device = DeviceIdentity(Transport.SIMULATED, "sim", "Test", "T1", s.device)
    values: BloodPressure | Glucose = (
        Glucose(None if s.hi or s.lo else 100.0, control_solution=s.control, hi=s.hi, lo=s.lo)
        if s.glucose
        else BloodPressure(120.0, 80.0, None, 70.0)
    )
    reading = Reading(
        id=f"q-{n}",
        kind=Kind.GLUCOSE if s.glucose else Kind.BLOOD_PRESSURE,
        gateway_id=s.gateway,
        device=device,
        record_key=str(n),
        measured_at=datetime(2026, 12, 2, 1, 0, tzinfo=UTC),
        time_quality=s.time,
        values=values,
        subject=Subject(f"{n:064x}") if s.bound else None,
        bound=s.bound,
        assurance=None if s.policy is None else Assurance(s.policy),
    )
    data = to_payload(reading)
    if s.v1:
        data["schema"] = SCHEMA_READING_V1
        data.pop("assurance")
        for key in ("region", "sex", "age_band"):
            data["subject"].pop(key)
    return Incoming(
        reading.id, s.gateway, reading.kind.value, data["measured_at"], orjson.dumps(data).decode()
    )


def set_received(conn: sa.Connection, reading_id: str, at: float) -> None:
    conn.execute(readings.update().where(readings.c.id == reading_id).values(received_at=at))


def seed_quality(store: CentralStore) -> None:
    """Store SEEDS, LATER and DEAD through the store, then set when central received each."""
    batch = [incoming(n, s) for n, s in enumerate(SEEDS, start=1)]
    assert len(store.store(batch)) == len(SEEDS)
    # Resent: 1 once and 2 twice (one batch) from gw-a; 10 beside a new 12 from gw-b.
    assert store.store([batch[0], batch[1], batch[1]]) == []
    assert store.store([batch[9], incoming(12, LATER)]) == ["q-12"]
    store.dead_letter_many([(topic, b"junk", "bad") for topic, _at in DEAD])
    with store.engine.begin() as conn:
        for n, s in enumerate((*SEEDS, LATER), start=1):
            set_received(conn, f"q-{n}", s.received)
        conn.execute(duplicates_received.update().values(hour=int(DECEMBER // 3600) * 3600))
        # Five more of gw-a's in November, as an earlier hour's row.
        conn.execute(
            duplicates_received.insert().values(
                gateway_id="gw-a", hour=int(NOVEMBER // 3600) * 3600, duplicates=5
            )
        )
        for n, (_topic, at) in enumerate(DEAD, start=1):
            conn.execute(dead_letters.update().where(dead_letters.c.n == n).values(received_at=at))
        conn.execute(
            sa.insert(fleet_gateways),
            [
                {
                    "gateway_id": gw,
                    "kind": "kiosk",
                    "site_id": site,
                    "state": "online",
                    "last_seen": 0.0,
                    "state_since": 0.0,
                    "reported_alarms": "[]",
                    "devices": "[]",
                    "alarms": "[]",
                }
                for gw, site in SITES.items()
            ],
        )


@pytest.fixture
def seeded(central_db_url: str) -> Iterator[CentralStore]:
    store = CentralStore(central_db_url)
    try:
        seed_quality(store)
        yield store
    finally:
        store.close()


# When the page is read: before any seeded day is over (every count from the readings), with
# November and 1 December sealed (summed from quality_daily) and 2 December not, and after
# everything is sealed. The counts must not depend on it.
CLOCKS = {
    "nothing sealed": datetime(2026, 11, 1, tzinfo=UTC).timestamp(),
    "partly sealed": datetime(2026, 12, 2, 12, 0, tzinfo=UTC).timestamp(),
    "all sealed": datetime(2027, 2, 1, tzinfo=UTC).timestamp(),
}


@pytest.fixture(params=list(CLOCKS))
def queries(request: pytest.FixtureRequest, seeded: CentralStore) -> QualityQueries:
    return QualityQueries(seeded.engine, lambda: CLOCKS[request.param])


def counts(row: QualityRow) -> tuple[int | None, ...]:
    return (
        row.readings,
        row.untrusted_clock,
        row.control_solution,
        row.hi_lo,
        row.unbound,
        row.out_of_policy,
        row.duplicates,
        row.dead_letters,
    )


def test_per_gateway_in_the_citys_month(queries: QualityQueries) -> None:
    rows = queries.by_gateway(MONTH, None)
    found = {r.gateway_id: counts(r) for r in rows}
    # readings, untrusted clock, control, HI/LO, unbound, out of policy, duplicates, dead
    assert found == {
        "gw-a": (7, 3, 1, 2, 2, 1, 3, 2),
        "gw-b": (3, 0, 0, 1, 1, 1, 1, 0),
        "gw-x": (1, 1, 0, 0, 0, 0, 0, 0),
        "gw-z": (0, 0, 0, 0, 0, 0, 0, 1),
        "gw_a": (0, 0, 0, 0, 0, 0, 0, 1),
    }
    assert [r.site_id for r in rows] == ["kios-sepinggan", "kios-manggar", None, None, None]
    assert counts(total(rows)) == (11, 4, 1, 3, 3, 2, 4, 4)
    assert total(rows).problems == 4 + 1 + 3 + 3 + 2 + 4 + 4


def test_all_time_takes_november_in(queries: QualityQueries) -> None:
    rows = queries.by_gateway(ALL_TIME, frozenset(["gw-a"]))
    assert [counts(r) for r in rows] == [(8, 4, 1, 2, 2, 1, 8, 3)]
    november = Span(end=MONTH.start)
    rows = queries.by_gateway(november, frozenset(["gw-a"]))
    assert [counts(r) for r in rows] == [(1, 1, 0, 0, 0, 0, 5, 1)]


def test_per_device_of_one_gateway(queries: QualityQueries) -> None:
    rows = queries.by_device("gw-a", MONTH)
    assert [(r.device_id, r.site_id) for r in rows] == [
        ("test:bp-1", "kios-sepinggan"),
        ("test:gl-1", "kios-sepinggan"),
    ]
    assert [counts(r) for r in rows] == [
        (4, 2, 0, 0, 1, 1, None, None),
        (3, 1, 1, 2, 1, 0, None, None),
    ]
    assert queries.by_device("gw-none", MONTH) == []


def test_limited_to_the_gateways_of_some_sites(queries: QualityQueries) -> None:
    visible = queries.visible_gateways({"kios-manggar", "kios-nowhere"})
    assert visible == {"gw-b"}
    assert [r.gateway_id for r in queries.by_gateway(MONTH, visible)] == ["gw-b"]
    assert queries.visible_gateways(set()) == frozenset()
    assert queries.by_gateway(MONTH, frozenset()) == []
    assert queries.visible_gateways(None) is None


def test_the_fleet_views_wrapper_keeps_its_shape(seeded: CentralStore) -> None:
    gateway, *devices = data_quality(seeded.engine, "gw-a")
    assert (gateway.device_id, gateway.readings, gateway.untrusted_clock) == (None, 8, 4)
    assert (gateway.dead_letters, gateway.duplicates_received) == (3, 8)
    assert [(d.device_id, d.readings, d.dead_letters) for d in devices] == [
        ("test:bp-1", 4, None),
        ("test:gl-1", 4, None),
    ]
    (nothing,) = data_quality(seeded.engine, "gw-none")
    assert (nothing.readings, nothing.dead_letters, nothing.duplicates_received) == (0, 0, 0)


def test_the_store_counts_duplicates_per_gateway_and_hour(central_db_url: str) -> None:
    store = CentralStore(central_db_url)
    try:
        a1, a2, b1 = incoming(1, SEEDS[0]), incoming(2, SEEDS[1]), incoming(3, SEEDS[9])
        assert store.store([a1, a2, b1]) == ["q-1", "q-2", "q-3"]
        with store.engine.connect() as conn:
            # A batch of new readings writes nothing to the counter.
            assert conn.execute(sa.select(duplicates_received)).all() == []
        assert store.store([a1, a1, b1]) == []
        assert store.store([a2, incoming(4, SEEDS[2])]) == ["q-4"]
        with store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    duplicates_received.c.gateway_id,
                    sa.func.sum(duplicates_received.c.duplicates),
                    sa.func.count(),
                ).group_by(duplicates_received.c.gateway_id)
            ).all()
            hours = conn.execute(sa.select(duplicates_received.c.hour)).scalars().all()
        # gw-a: a1 twice, then a2; gw-b: b1. One row per gateway (unless the hour turned).
        assert {g: int(n) for g, n, _rows in rows} == {"gw-a": 3, "gw-b": 1}
        assert all(h % 3600 == 0 for h in hours)
        # The same id twice in one batch of new readings: one stored, one duplicate.
        c = incoming(5, SEEDS[3])
        assert store.store([c, c]) == ["q-5"]
        assert (
            sum(
                r.duplicates
                for r in QualityQueries(store.engine).by_gateway(ALL_TIME, None)
                if r.duplicates
            )
            == 5
        )
    finally:
        store.close()


def test_days_are_counted_once_as_the_clock_moves(seeded: CentralStore) -> None:
    now = [CLOCKS["nothing sealed"]]
    queries = QualityQueries(seeded.engine, lambda: now[0])
    expected = [counts(r) for r in queries.by_gateway(ALL_TIME, None)]
    added = 0
    for moment in (*CLOCKS.values(), CLOCKS["all sealed"] + 86400):
        now[0] = moment
        added += queries.refresh()
        assert [counts(r) for r in queries.by_gateway(ALL_TIME, None)] == expected
        assert counts(queries.by_gateway(MONTH, frozenset(["gw-a"]))[0]) == (7, 3, 1, 2, 2, 1, 3, 2)
    # gw-a: bp-1 and gl-1 on 2 December, gl-1 on 1 December and 30 November; gw-b: gl-2 and
    # bp-2 on 2 December; gw-x: bp-9.
    assert added == 7
    assert queries.refresh() == 0  # nothing new is over
