"""The cascade's facts (0008) are filed on read from what arrived since the last scan: a
reading stored after a view is counted by the next one, each reading is filed once, and a
reading stamped a little before the mark (committed late) is still found."""

from __future__ import annotations

from datetime import date

import orjson
import sqlalchemy as sa

from central.cascade import CascadeQueries, Period, cascade_facts, refresh_facts, window
from central.cascade import resolve_place as resolve
from central.store import CentralStore, Incoming, readings

from .cascade_seed import SEEDS, WILAYAH, Seed, _payload, _utc, seed


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(cascade_facts)).scalar_one())


def _store(url: str, n: int, s: Seed) -> Incoming:
    payload = _payload(n, s)
    data = orjson.loads(payload)
    incoming = Incoming(data["id"], s.gateway, data["kind"], data["measured_at"], payload)
    store = CentralStore(url)
    try:
        assert store.store([incoming]) == [incoming.id]
    finally:
        store.close()
    return incoming


def test_readings_stored_after_a_view_are_counted_by_the_next(central_db_url: str) -> None:
    seed(central_db_url)
    engine = sa.create_engine(central_db_url)
    try:
        city = resolve(WILAYAH, None)
        assert city is not None
        month = window(Period.MONTH, date(2026, 12, 2))
        queries = CascadeQueries(engine, WILAYAH)
        before = queries.cascade(month, city, whole_city=True).counts
        assert _count(engine) == len(SEEDS)
        assert refresh_facts(engine) == 0  # nothing new: nothing filed twice
        late = Seed("P9", "gw-manggar", _utc(2026, 12, 3, 1, 0), bp=(190, 100))
        _store(central_db_url, 100, late)
        after = queries.cascade(month, city, whole_city=True).counts
        assert after.screened == before.screened + 1
        assert after.urgent == before.urgent + 1
        assert _count(engine) == len(SEEDS) + 1

        # Stamped before the mark, as a reading whose transaction committed late is.
        stale = _store(central_db_url, 101, Seed("P10", "gw-manggar", late.at, bp=(120, 70)))
        with engine.begin() as conn:
            first = conn.execute(sa.select(sa.func.min(readings.c.received_at))).scalar_one()
            conn.execute(
                readings.update().where(readings.c.id == stale.id).values(received_at=first)
            )
        _store(central_db_url, 102, Seed("P11", "gw-manggar", late.at, bp=(121, 70)))
        assert refresh_facts(engine) == 2
        assert queries.cascade(month, city, whole_city=True).counts.screened == after.screened + 2
    finally:
        engine.dispose()
