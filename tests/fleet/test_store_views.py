"""The fleet table and its views, on SQLite and PostgreSQL: upserts, timeline, filters, quality."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from central.fleet_store import FleetStatusError, FleetStore, fleet_events, parse_status
from central.fleet_views import (
    FleetFilter,
    SortKey,
    data_quality,
    fleet_list,
    gateway_detail,
)
from central.store import CentralStore, Incoming
from tests.fleet.helpers import status, topic
from tests.support.clock import FakeClock


@pytest.fixture
def store(central_db_url: str) -> Iterator[CentralStore]:
    central = CentralStore(central_db_url)
    try:
        yield central
    finally:
        central.close()


def apply(fleet: FleetStore, gateway_id: str, payload: bytes, now: float) -> None:
    fleet.apply(parse_status(topic(gateway_id), payload), now)


def kinds(store: CentralStore, gateway_id: str) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        query = (
            sa.select(fleet_events.c.kind, fleet_events.c.code)
            .where(fleet_events.c.gateway_id == gateway_id)
            .order_by(fleet_events.c.n)
        )
        return [(str(k), str(c)) for k, c in conn.execute(query).all()]


def test_online_then_last_will_then_online_again(store: CentralStore) -> None:
    clock = FakeClock()
    t0 = clock().timestamp()
    fleet = FleetStore(store.engine)
    apply(fleet, "gw-1", status("gw-1", t0), t0)
    clock.advance(5)
    apply(fleet, "gw-1", status("gw-1", t0 + 5), clock().timestamp())
    (row,) = fleet_list(store.engine, clock().timestamp())
    assert (row.state, row.backlog, row.version, row.site_id) == (
        "online",
        5,
        "0.1.0",
        "kios-karang-jati",
    )
    assert row.devices[0].battery_pct == 80 and row.alarms == ()
    clock.advance(5)
    # The Last Will was set when the session began: its `at` is older than the last status.
    apply(fleet, "gw-1", status("gw-1", t0, state="offline"), clock().timestamp())
    (row,) = fleet_list(store.engine, clock().timestamp())
    assert row.state == "offline"
    assert [a.code for a in row.alarms] == ["offline"]
    assert row.backlog == 5 and row.devices[0].name == "bp-kiosk"  # last known, kept
    assert row.last_seen == t0 + 5
    clock.advance(60)
    apply(fleet, "gw-1", status("gw-1", clock().timestamp()), clock().timestamp())
    assert kinds(store, "gw-1") == [
        ("first_seen", "online"),
        ("went_offline", "offline"),
        ("went_online", "online"),
    ]
    detail = gateway_detail(store.engine, "gw-1", clock().timestamp())
    assert detail is not None
    assert [e.kind for e in detail.timeline] == ["went_online", "went_offline", "first_seen"]
    assert detail.outbox["unconfirmed"] == 5
    assert gateway_detail(store.engine, "gw-nobody", clock().timestamp()) is None


def test_a_second_instance_records_each_change_once(store: CentralStore) -> None:
    now = FakeClock()().timestamp()
    first, second = FleetStore(store.engine), FleetStore(store.engine)
    for fleet in (first, second):
        apply(fleet, "gw-1", status("gw-1", now), now)
    for fleet in (first, second):
        apply(fleet, "gw-1", status("gw-1", now, state="offline"), now + 1)
    assert kinds(store, "gw-1") == [("first_seen", "online"), ("went_offline", "offline")]


def test_a_late_older_status_does_not_roll_the_row_back(store: CentralStore) -> None:
    now = FakeClock()().timestamp()
    fleet = FleetStore(store.engine)
    apply(fleet, "gw-1", status("gw-1", now + 10, alarms=["outbox_full"]), now)
    apply(fleet, "gw-1", status("gw-1", now), now + 1)
    (row,) = fleet_list(store.engine, now + 1)
    assert [a.code for a in row.alarms] == ["outbox_full"]


def test_a_gateway_whose_clock_was_set_back_is_still_followed(store: CentralStore) -> None:
    now = FakeClock()().timestamp()
    fleet = FleetStore(store.engine)
    apply(fleet, "gw-1", status("gw-1", now, alarms=["outbox_full"]), now)
    apply(fleet, "gw-1", status("gw-1", now - 86400), now + 1)  # a day back: not a late copy
    (row,) = fleet_list(store.engine, now + 1)
    assert row.alarms == ()


def test_alarms_raise_and_clear_in_the_timeline(store: CentralStore) -> None:
    now = FakeClock()().timestamp()
    fleet = FleetStore(store.engine)
    apply(fleet, "gw-1", status("gw-1", now), now)
    errored = json.loads(status("gw-1", now + 1))["devices"]
    errored[0]["last_error"] = "link lost"
    apply(fleet, "gw-1", status("gw-1", now + 1, alarms=["outbox_full"], devices=errored), now + 1)
    apply(fleet, "gw-1", status("gw-1", now + 2, alarms=["outbox_full"], devices=errored), now + 2)
    apply(fleet, "gw-1", status("gw-1", now + 3), now + 3)
    assert kinds(store, "gw-1") == [
        ("first_seen", "online"),
        ("alarm_raised", "device_error:bp-kiosk"),
        ("alarm_raised", "outbox_full"),
        ("device_error", "bp-kiosk"),  # once, not again while the same error stands
        ("alarm_cleared", "device_error:bp-kiosk"),
        ("alarm_cleared", "outbox_full"),
    ]


def test_filters_and_sorting(store: CentralStore) -> None:
    clock = FakeClock()
    now = clock().timestamp()
    fleet = FleetStore(store.engine)
    apply(fleet, "kiosk-b", status("kiosk-b", now, kind="kiosk", alarms=["outbox_full"]), now - 50)
    apply(fleet, "kit-a", status("kit-a", now, kind="kit"), now - 10)
    apply(fleet, "kit-c", status("kit-c", now, kind="kit", outbox={"pending": 40}), now - 30)
    apply(fleet, "kit-c", status("kit-c", now, state="offline"), now - 20)

    def ids(rows: list[object]) -> list[str]:
        return [r.gateway_id for r in rows]  # type: ignore[attr-defined]

    engine = store.engine
    assert ids(fleet_list(engine, now)) == ["kiosk-b", "kit-a", "kit-c"]
    assert ids(fleet_list(engine, now, sort=SortKey.STATE)) == ["kit-c", "kiosk-b", "kit-a"]
    assert ids(fleet_list(engine, now, sort=SortKey.LAST_SEEN, descending=True)) == [
        "kit-a",
        "kit-c",
        "kiosk-b",
    ]
    assert ids(fleet_list(engine, now, sort=SortKey.BACKLOG, descending=True)) == [
        "kit-c",
        "kiosk-b",
        "kit-a",
    ]
    assert ids(fleet_list(engine, now, sort=SortKey.OLDEST)) == ["kit-c", "kiosk-b", "kit-a"]
    assert ids(fleet_list(engine, now, filters=FleetFilter(kind="kit"))) == ["kit-a", "kit-c"]
    assert ids(fleet_list(engine, now, filters=FleetFilter(state="offline"))) == ["kit-c"]
    assert ids(fleet_list(engine, now, filters=FleetFilter(alarm="outbox_full"))) == ["kiosk-b"]
    assert ids(fleet_list(engine, now, filters=FleetFilter(alarm="any"))) == ["kiosk-b", "kit-c"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1]", "JSON object"),
        (b'{"schema": "gempita.status/9", "state": "online", "at": 1}', "schema"),
        (b'{"schema": "gempita.status/1", "state": "asleep", "at": 1}', "state"),
        (b'{"schema": "gempita.status/1", "state": "online"}', "at is required"),
        (b'{"schema": "gempita.status/1", "state": "online", "at": 1, "gateway_id": "x"}', "match"),
        (b'{"schema": "gempita.status/1", "state": "online", "at": 1, "devices": [1]}', "devices"),
        (
            b'{"schema": "gempita.status/1", "state": "online", "at": 1,'
            b' "outbox": {"pending": -1}}',
            "outbox.pending",
        ),
        (b"[" * 5000, "not UTF-8 JSON"),
    ],
)
def test_junk_is_a_typed_error_naming_the_field(payload: bytes, reason: str) -> None:
    with pytest.raises(FleetStatusError, match=reason):
        parse_status(topic("gw-1"), payload)


def test_data_quality_per_gateway_and_device(store: CentralStore) -> None:
    def reading(n: int, device: str, **fields: object) -> Incoming:
        values: dict[str, object] = {"glucose_mgdl": 100.0}
        values.update(fields.pop("values", {}))  # type: ignore[call-overload]
        body = {"device": {"id": device}, "time_quality": "synced", "values": values, **fields}
        return Incoming(f"r{n}", "gw-q", "glucose", "2026-11-27T02:00:00Z", json.dumps(body))

    store.store(
        [
            reading(1, "gl-1", subject={"pseudonym": "a" * 64}),
            reading(2, "gl-1", time_quality="unknown", values={"control_solution": True}),
            reading(3, "gl-2", values={"glucose_mgdl": None, "hi": True}),
            reading(4, "gl-2", time_quality="gateway_receive", values={"lo": True}),
        ]
    )
    store.dead_letter("gempita/v1/gw-q/readings", b"junk", "bad")
    store.dead_letter("gempita/v1/gw-qq/readings", b"junk", "another gateway's")
    store.dead_letter("gempita/v1/gw_q/readings", b"junk", "LIKE's wildcard must not match")
    total, first, second = data_quality(store.engine, "gw-q")
    assert (total.device_id, total.readings, total.untrusted_clock) == (None, 4, 2)
    assert (total.control_solution, total.hi_lo, total.unbound) == (1, 2, 3)
    assert (total.dead_letters, total.duplicates_received) == (1, 0)
    assert (first.device_id, first.readings, first.unbound, first.dead_letters) == (
        "gl-1",
        2,
        1,
        None,
    )
    assert (second.device_id, second.hi_lo, second.untrusted_clock) == ("gl-2", 2, 1)
