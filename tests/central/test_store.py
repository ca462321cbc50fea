"""Central's store on SQLite and PostgreSQL: each reading once by id, dead letters kept whole."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from central.store import CentralStore, readings
from tests.central.helpers import incoming


def test_store_reports_only_readings_it_added(central_db_url: str) -> None:
    store = CentralStore(central_db_url)
    try:
        first = [incoming(1), incoming(2), incoming(1)]  # a duplicate inside one batch
        assert store.store(first) == [incoming(1).id, incoming(2).id]
        # A re-send (lost receipt) and one new reading: only the new one is new.
        assert store.store([incoming(2), incoming(3), incoming(1)]) == [incoming(3).id]
        assert store.store([]) == []
        assert store.count() == 3
        assert store.ids() == {incoming(n).id for n in (1, 2, 3)}
        with store.engine.connect() as conn:
            payload = conn.execute(
                sa.select(readings.c.payload).where(readings.c.id == incoming(2).id)
            ).scalar_one()
        assert payload == incoming(2).payload  # the very bytes the gateway sent
    finally:
        store.close()


def test_a_reading_another_instance_is_storing_is_not_new_here(central_db_url: str) -> None:
    # Two central instances got the same reading (a redelivery after one was killed). The
    # other commits it while we are inserting: the database's unique key decides, and only
    # one of the two may count it as stored (and print it, and say so in its metrics).
    ours, theirs = CentralStore(central_db_url), CentralStore(central_db_url)
    shared, own = incoming(1), incoming(2)
    try:
        with theirs.engine.connect() as conn, ThreadPoolExecutor(1) as pool:
            tx = conn.begin()
            conn.execute(
                readings.insert(),
                {
                    "id": shared.id,
                    "gateway_id": shared.gateway_id,
                    "kind": shared.kind,
                    "measured_at": shared.measured_at,
                    "received_at": time.time(),
                    "payload": shared.payload,
                },
            )
            storing = pool.submit(ours.store, [shared, own])
            time.sleep(0.5)
            assert not storing.done(), "the insert should wait for the other's transaction"
            tx.commit()
            new = storing.result(timeout=20)
        assert new == [own.id]
        assert ours.count() == 2
    finally:
        ours.close()
        theirs.close()


def test_concurrent_instances_store_each_reading_once(central_db_url: str) -> None:
    stores = [CentralStore(central_db_url) for _ in range(3)]
    batches = [[incoming(n) for n in range(start, start + 300)] for start in (0, 100, 200)]
    try:
        with ThreadPoolExecutor(3) as pool:
            results = list(
                pool.map(lambda sb: sb[0].store(sb[1]), zip(stores, batches, strict=True))
            )
        everyone = [i for new in results for i in new]
        assert len(everyone) == len(set(everyone)) == 500
        assert stores[0].count() == 500
    finally:
        for store in stores:
            store.close()


def test_dead_letters_keep_topic_bytes_and_reason_in_order(central_db_url: str) -> None:
    store = CentralStore(central_db_url)
    letters = [
        ("gempita/v1/gw-001/readings", b"\x00\xff not utf-8 \xfe", "not JSON"),
        ("gempita/v1/gw-002/readings", b"", "empty"),
        ("t" * 400, b"x", "r" * 900),  # clipped to the columns, not refused
    ]
    try:
        store.dead_letter_many(letters)
        store.dead_letter("gempita/v1/gw-003/readings", b"{}", "no id")
        store.dead_letter_many([])
        assert store.dead_letter_count() == 4
        assert store.dead_letter_reasons() == [
            ("gempita/v1/gw-001/readings", "not JSON"),
            ("gempita/v1/gw-002/readings", "empty"),
            ("t" * 300, "r" * 500),
            ("gempita/v1/gw-003/readings", "no id"),
        ]
        with store.engine.connect() as conn:
            first = conn.exec_driver_sql("SELECT payload FROM dead_letters ORDER BY n").first()
        assert first is not None
        assert bytes(first[0]) == b"\x00\xff not utf-8 \xfe"
    finally:
        store.close()
