"""The cascade's answers kept in memory, so a period viewed again is not counted again.

Why: a year at city level groups every fact of the year by resident, twice (4.6 s at
1,000,000 readings, bench/RESULTS.md "(k) dashboard pages"); the figures only change when a
reading is filed into that period, a gateway moves to another site, or a referral changes.

An answer is kept per (period window, place, scope, rules, zone, wilayah) and used again only
while a *validator* read from the database is unchanged:
- the number of `cascade_facts` rows measured in the window and received since a little
  before the fill's mark as it was when the answer was counted. The facts are insert-only (a
  reading is filed once, by its id, and nothing deletes them), and a fill only files readings
  received after its own mark less its look-back (`_SCAN_OVERLAP_S`), a mark that never goes
  back: so any reading filed into the window afterwards, however late a kit synced it (its
  receive time is central's), raises that number. Counting only what was received since then
  reads the few entries of revision 0009's (received_at, measured_at) index, where counting
  the whole window read every fact of it (~140 ms for a year of 1,000,000, bench/RESULTS.md);
- the gateway -> site table (500 rows), which places every reading;
- the number of referral events, when the worklist's tables exist, for the referred / came /
  confirmed counts: every change the worklist makes (a referral opened, a reading joining one,
  a status or a note) writes an event in the same transaction, and events are never deleted,
  so a count sees each (a max() of the event number would not: under concurrency an earlier
  number can commit after a later one).
The facts are filed (`refresh_facts`) before the validator is read, so a late reading is seen
by the view that files it. The validator is read before the answer is computed: a reading
filed in between is at worst counted early and makes the next view recompute, never hidden.

The place is part of the key with the kelurahan it covers, and so is the caller's scope
(whole city or not): a Puskesmas' city, limited to its wilayah, never shares an answer with
Dinkes' city or with another Puskesmas'. Thresholds (`CascadeRules`) are in the key, so a
configuration change is counted afresh. Memory is bounded: `MAX_ENTRIES` answers per engine,
least recently used first out; each process keeps its own (the validator is the database's,
so processes never disagree for longer than one view).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from central.cascade import (
    _SCAN_OVERLAP_S,
    DEFAULT_ZONE,
    Cascade,
    CascadeQueries,
    Place,
    Window,
    cascade_facts,
    cascade_scan,
    refresh_facts,
)
from central.cascade_rules import DEFAULT_RULES, CascadeRules
from central.fleet_store import fleet_gateways
from central.wilayah import Wilayah

_LOGGER = logging.getLogger(__name__)

# A city has 4 periods x (1 city + ~6 kecamatan + ~30 kelurahan + sites) places per scope; a
# few hundred small answers (~10 KB each as objects) is a few MB.
MAX_ENTRIES = 512

_Key = tuple[Window, Place, bool, CascadeRules, ZoneInfo, int]
_Validator = tuple[object, ...]
# Twice the fill's look-back: a fill that began before the mark was read (another process's)
# looked back from an earlier mark; readings stamped this long before a mark are long filed.
_MARGIN_S = 2 * _SCAN_OVERLAP_S

# Revision 0009; on the facts' table so the models and the migrations agree.
sa.Index(
    "ix_cascade_facts_received_measured",
    cascade_facts.c.received_at,
    cascade_facts.c.measured_at,
)


@dataclass(frozen=True, slots=True)
class _Entry:
    since: float  # facts received after this were not all in the answer
    validator: _Validator
    wilayah: Wilayah  # held so the id() in the key cannot be reused while the entry lives
    answer: Cascade


class CascadeCache:
    """Answers for one engine's database; thread-safe (FastAPI runs sync routes in threads)."""

    def __init__(self, max_entries: int | None = None) -> None:
        # Read when made, not when defined: the benchmark's --no-cache sets MAX_ENTRIES to 0
        # (nothing kept: every view counts, as before the cache, plus the validator's cost).
        self._max = MAX_ENTRIES if max_entries is None else max_entries
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def cascade(
        self,
        engine: Engine,
        wilayah: Wilayah,
        win: Window,
        place: Place,
        *,
        whole_city: bool = False,
        rules: CascadeRules = DEFAULT_RULES,
        zone: ZoneInfo = DEFAULT_ZONE,
    ) -> Cascade:
        refresh_facts(engine)
        key: _Key = (win, place, whole_city, rules, zone, id(wilayah))
        with self._lock:
            entry = self._entries.get(key)
        fresh = (
            entry is not None
            and entry.wilayah is wilayah
            and _validator(engine, win, zone, entry.since) == entry.validator
        )
        if entry is not None and fresh:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                self.hits += 1
            return entry.answer
        with self._lock:
            self.misses += 1
        # Read before counting: a fact filed meanwhile is at worst counted early, and then
        # makes the next view count afresh.
        since = _since(engine)
        validator = _validator(engine, win, zone, since)
        answer = CascadeQueries(engine, wilayah, rules, zone).cascade(
            win, place, whole_city=whole_city
        )
        with self._lock:
            self._entries[key] = _Entry(since, validator, wilayah, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        _LOGGER.debug("cascade %s %s counted afresh", win.period.value, place.level.value)
        return answer


def _since(engine: Engine) -> float:
    """The receive time after which facts may still be filed: the fill's mark less a margin
    (-inf before the first fill: every fact counts)."""
    with engine.connect() as conn:
        mark = conn.execute(sa.select(sa.func.max(cascade_scan.c.received_at))).scalar_one()
    return float("-inf") if mark is None else float(mark) - _MARGIN_S


def _validator(engine: Engine, win: Window, zone: ZoneInfo, since: float) -> _Validator:
    start, end = win.utc_bounds(zone)
    f = cascade_facts.c
    received = sa.true() if since == float("-inf") else f.received_at > since
    with engine.connect() as conn:
        facts = conn.execute(
            sa.select(sa.func.count())
            .select_from(cascade_facts)
            .where(received, f.measured_at >= start, f.measured_at < end)
        ).scalar_one()
        return (int(facts), _placement(conn), _referrals(conn))


def _placement(conn: Connection) -> str:
    """A digest of which gateway is at which site: moving a kit moves its readings' place."""
    digest = hashlib.sha256()
    rows = conn.execute(
        sa.select(fleet_gateways.c.gateway_id, fleet_gateways.c.site_id).order_by(
            fleet_gateways.c.gateway_id
        )
    )
    for gateway, site in rows:
        digest.update(f"{gateway}\x00{site or ''}\x01".encode())
    return digest.hexdigest()


def _referrals(conn: Connection) -> tuple[object, ...]:
    # Imported here: the worklist's tables are optional to the cascade (absent before 0006).
    from central.referrals import referral_events

    if not sa.inspect(conn).has_table("referral_events"):
        return ()
    count = conn.execute(sa.select(sa.func.count()).select_from(referral_events)).scalar_one()
    return (int(count),)


_CACHES: weakref.WeakKeyDictionary[Engine, CascadeCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_for(engine: Engine) -> CascadeCache:
    """The process' cache of this engine's database (dropped with the engine)."""
    with _CACHES_LOCK:
        found = _CACHES.get(engine)
        if found is None:
            found = _CACHES[engine] = CascadeCache()
        return found


def cascade(
    engine: Engine,
    wilayah: Wilayah,
    win: Window,
    place: Place,
    *,
    whole_city: bool = False,
    rules: CascadeRules = DEFAULT_RULES,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> Cascade:
    """`CascadeQueries(engine, wilayah, rules, zone).cascade(...)`, answered from memory while
    nothing it counts has changed."""
    return cache_for(engine).cascade(
        engine, wilayah, win, place, whole_city=whole_city, rules=rules, zone=zone
    )
