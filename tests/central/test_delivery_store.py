"""The delivery table's queries on both backends: the queue, the upserts, the counts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from central.delivery_store import DeliveryState, DeliveryStore
from central.store import CentralStore
from tests.central.helpers import incoming

NOW = 1_800_000_000.0


@pytest.fixture
def store(central_db_url: str) -> Iterator[CentralStore]:
    s = CentralStore(central_db_url)
    try:
        yield s
    finally:
        s.close()


def test_the_queue_is_untried_and_due_queued_readings(store: CentralStore) -> None:
    ids = store.store([incoming(n) for n in range(1, 6)])
    d = DeliveryStore(store.engine)
    assert [r.id for r in d.due(NOW, 10)] == sorted(ids)  # same received_at: by id
    assert len(d.due(NOW, 2)) == 2
    d.mark_accepted([(ids[0], "Observation/1")], NOW)
    d.mark_failed([(ids[1], "HTTP 400: bad")], NOW)
    d.mark_skipped([ids[2]], NOW)
    d.mark_queued([ids[3]], "HTTP 503", NOW + 60, NOW)
    assert [r.id for r in d.due(NOW, 10)] == [ids[4]]
    assert sorted(r.id for r in d.due(NOW + 60, 10)) == sorted([ids[3], ids[4]])
    assert d.counts() == {
        DeliveryState.QUEUED: 2,  # one queued row and one never tried
        DeliveryState.ACCEPTED: 1,
        DeliveryState.FAILED: 1,
        DeliveryState.SKIPPED: 1,
    }


def test_each_mark_counts_an_attempt_and_replaces_the_state(store: CentralStore) -> None:
    (rid,) = store.store([incoming(1)])
    d = DeliveryStore(store.engine)
    assert d.state(rid) is None
    d.mark_queued([rid], "HTTP 503", NOW + 5, NOW)
    d.mark_queued([rid], "timeout", NOW + 15, NOW + 5)
    row = d.state(rid)
    assert row is not None
    assert (row.state, row.attempts, row.reason, row.next_attempt_at) == (
        DeliveryState.QUEUED,
        2,
        "timeout",
        NOW + 15,
    )
    d.mark_accepted([(rid, "Observation/9")], NOW + 15)
    row = d.state(rid)
    assert row is not None
    assert (row.state, row.attempts, row.server_id, row.reason, row.next_attempt_at) == (
        DeliveryState.ACCEPTED,
        3,
        "Observation/9",
        None,
        None,
    )
    assert row.updated_at == NOW + 15


def test_a_long_reason_is_truncated(store: CentralStore) -> None:
    (rid,) = store.store([incoming(1)])
    d = DeliveryStore(store.engine)
    d.mark_failed([(rid, "x" * 5000)], NOW)
    row = d.state(rid)
    assert row is not None
    assert row.reason == "x" * 1000
