"""Issue 10 item 4: the kader sees where each of their readings is on the way to central:
stored on the kit -> sent (the broker acknowledged it) -> confirmed by central.

The outbox's per-reading states are faked here (a dict behind the injected callable); the
whole chain with the real outbox, mosquitto and central is in
tests/kiosk_e2e/test_kader_sync_states.py.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from core.reading import Sex
from kiosk.roster import Roster
from kiosk.security import hash_secret

from .helpers import (
    KADER_PIN,
    NIK_MAN,
    NIK_WOMAN,
    Rig,
    bp_reading,
    client_for,
    follow,
    make_rig,
    post,
    running,
)

OTHER_PIN = "730155"


class OutboxStates:
    """What `Outbox.states` answers: a state name per id the outbox holds."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.asked: list[list[str]] = []

    async def __call__(self, ids: Sequence[str]) -> Mapping[str, str]:
        self.asked.append(list(ids))
        return {i: self.states[i] for i in ids if i in self.states}


def rig_with_states(**overrides: object) -> tuple[Rig, OutboxStates]:
    rig = make_rig(**overrides)
    states = OutboxStates()
    rig.deps.reading_states = states
    return rig, states


async def login(client: httpx.AsyncClient, kader: str = "kader01", pin: str = KADER_PIN) -> None:
    page = await post(client, "/kader/masuk", {"kader": kader, "pin": pin, "lang": "id"})
    assert page.url.path == "/kader", page.text


async def measured_resident(
    client: httpx.AsyncClient, rig: Rig, nik: str, year: str, systolic: float
) -> tuple[str, str]:
    """Register, measure BP, deliver the reading; returns (resident page path, reading id)."""
    form = await follow(client, await client.get("/kader/daftar"))
    data = {"nik": nik, "birth_year": year, "label": f"Warga {year}", "consent": "yes"}
    page = await post(client, "/kader/daftar", data, form.text)
    entry_url = page.url.path
    await post(client, f"{entry_url}/ukur", {"test": "bp"}, page.text)
    rig.clock.advance(30)
    bound = await rig.deliver("bp", bp_reading(rig.clock.now, systolic, 85))
    return entry_url, bound.id


def text_of(html: str) -> str:
    main = html[html.find("<main") :]
    return " ".join(re.sub(r"<[^>]+>", " ", main[: main.find("</main>")]).split())


def has_state(page: str, value: str, state: str) -> bool:
    """The row that shows `value` ends in `state` (rows: "<time> · <summary> · <state>")."""
    return re.search(re.escape(value) + r"[^·]* · " + re.escape(state), page) is not None


def mine(html: str) -> str:
    """The home page's own-readings section, as text."""
    start = html.index('id="mine-h"')
    return text_of("<main" + html[start : html.index("</section>", start)] + "</main>")


async def test_one_reading_moves_stored_sent_confirmed_per_reading_and_resident() -> None:
    rig, outbox = rig_with_states()
    # The gateway-wide counts say nothing is waiting: the kader's own reading still is.
    rig.sync = {"pending": 0, "confirmed": 40}
    async with running(rig) as phone:
        await login(phone)
        entry_url, reading = await measured_resident(phone, rig, NIK_MAN, "1985", 150)

        outbox.states[reading] = "pending"
        page = text_of((await phone.get(entry_url)).text)
        assert has_state(page, "150/85 mmHg", "Tersimpan di kit"), page
        home = (await phone.get("/kader")).text
        assert mine(home) == (
            "Bacaan Anda hari ini Tersimpan di kit: 1 Terkirim, menunggu pusat: 0 "
            "Diterima pusat: 0 Bacaan yang belum diterima pusat tetap tersimpan aman di kit "
            "dan dikirim lagi otomatis."
        )
        assert "Belum terkirim: 0" not in home  # what the page said before (issue 10 item 4)
        assert has_state(
            text_of(home), "150/85 mmHg", "Tersimpan di kit"
        )  # the day list, per resident

        outbox.states[reading] = "published"  # the broker acknowledged it (PUBACK)
        page = text_of((await phone.get(entry_url)).text)
        assert has_state(page, "150/85 mmHg", "Terkirim, menunggu pusat"), page
        home = (await phone.get("/kader")).text
        assert "Tersimpan di kit: 0 Terkirim, menunggu pusat: 1 Diterima pusat: 0" in mine(home)
        assert has_state(text_of(home), "150/85 mmHg", "Terkirim, menunggu pusat")

        outbox.states[reading] = "confirmed"  # central's receipt came back
        page = text_of((await phone.get(entry_url)).text)
        assert has_state(page, "150/85 mmHg", "Diterima pusat"), page
        home = (await phone.get("/kader")).text
        assert mine(home) == (
            "Bacaan Anda hari ini Tersimpan di kit: 0 Terkirim, menunggu pusat: 0 Diterima pusat: 1"
        )
        assert has_state(text_of(home), "150/85 mmHg", "Diterima pusat")
    assert [reading] in outbox.asked  # one query for the page's readings, by id


async def test_counts_are_the_kaders_own_readings_not_the_whole_kit() -> None:
    pins = {"kader01": hash_secret(KADER_PIN), "kader02": hash_secret(OTHER_PIN)}
    rig, outbox = rig_with_states(kader_pin_hashes=pins)
    async with running(rig) as first, client_for(rig, "10.42.0.30") as second:
        await login(first)
        _url, mine_1 = await measured_resident(first, rig, NIK_MAN, "1985", 150)
        await login(second, "kader02", OTHER_PIN)
        _url, mine_2 = await measured_resident(second, rig, NIK_WOMAN, "2000", 131)
        outbox.states.update({mine_1: "confirmed", mine_2: "pending"})

        home_1 = (await first.get("/kader")).text
        assert "Tersimpan di kit: 0 Terkirim, menunggu pusat: 0 Diterima pusat: 1" in mine(home_1)
        home_2 = (await second.get("/kader")).text
        assert "Tersimpan di kit: 1 Terkirim, menunggu pusat: 0 Diterima pusat: 0" in mine(home_2)
        # Both see the whole day's list with each resident's state.
        for home in (home_1, home_2):
            page = text_of(home)
            assert has_state(page, "150/85 mmHg", "Diterima pusat")
            assert has_state(page, "131/85 mmHg", "Tersimpan di kit")


async def test_unknown_ids_and_a_failing_outbox_never_break_the_pages() -> None:
    rig, _outbox = rig_with_states()
    async with running(rig) as phone:
        await login(phone)
        entry_url, _reading = await measured_resident(phone, rig, NIK_MAN, "1985", 150)
        # Not in the outbox (a reading the outbox no longer holds): not claimed as sent.
        page = text_of((await phone.get(entry_url)).text)
        assert has_state(page, "150/85 mmHg", "Status belum diketahui"), page

        async def broken(_ids: Sequence[str]) -> Mapping[str, str]:
            raise OSError("outbox closed")

        rig.deps.reading_states = broken
        response = await phone.get(entry_url)
        assert response.status_code == 200
        assert has_state(text_of(response.text), "150/85 mmHg", "Status pengiriman tidak tersedia")
        home = await phone.get("/kader")
        assert home.status_code == 200 and "Status pengiriman tidak tersedia" in mine(home.text)

        rig.deps.reading_states = None  # a kiosk built without the outbox (tests, demos)
        page = text_of((await phone.get(entry_url)).text)
        assert has_state(page, "150/85 mmHg", "Status pengiriman tidak tersedia")


async def test_states_in_english() -> None:
    rig, outbox = rig_with_states()
    async with running(rig) as phone:
        page = await post(
            phone, "/kader/masuk", {"kader": "kader01", "pin": KADER_PIN, "lang": "en"}
        )
        assert page.url.path == "/kader"
        entry_url, reading = await measured_resident(phone, rig, NIK_MAN, "1985", 150)
        outbox.states[reading] = "published"
        assert "Sent, awaiting central" in text_of((await phone.get(entry_url)).text)
        home = (await phone.get("/kader")).text
        assert "Your readings today Stored on the kit: 0 Sent, awaiting central: 1" in mine(home)


def test_a_roster_file_from_before_keeps_its_rows_and_gains_the_kader_column(
    tmp_path: Path,
) -> None:
    path = tmp_path / "roster.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE result (entry_id TEXT NOT NULL, reading_id TEXT NOT NULL,"
        " kind TEXT NOT NULL, summary TEXT NOT NULL, band TEXT, urgent INTEGER NOT NULL,"
        " measured_at TEXT NOT NULL, PRIMARY KEY (entry_id, reading_id));"
        "INSERT INTO result VALUES ('e1', 'r1', 'glucose', 'Gula darah: 99 mg/dL', NULL, 0,"
        " '2026-11-27T02:00:00+00:00');"
    )
    old.close()
    roster = Roster(str(path))
    try:
        roster.add_result(
            "e1",
            reading_id="r2",
            kind="glucose",
            summary="Gula darah: 101 mg/dL",
            band=None,
            urgent=False,
            measured_at=datetime(2026, 11, 27, 2, 5, tzinfo=UTC),
            kader="kader01",
        )
        rows = roster.results("e1")
    finally:
        roster.close()
    assert [(r.reading_id, r.kader) for r in rows] == [("r1", None), ("r2", "kader01")]


def test_a_roster_entry_from_before_the_cascade_fields_reads_them_as_unknown(
    tmp_path: Path,
) -> None:
    path = tmp_path / "roster.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE entry (id TEXT PRIMARY KEY, day TEXT NOT NULL, kader TEXT NOT NULL,"
        " pseudonym TEXT NOT NULL, sealed_nik TEXT NOT NULL, masked_nik TEXT NOT NULL,"
        " label TEXT NOT NULL, consent_version TEXT NOT NULL, consent_at TEXT NOT NULL,"
        " created_at TEXT NOT NULL, UNIQUE (day, pseudonym));"
        "INSERT INTO entry VALUES ('e1', '2026-11-27', 'kader01', 'p1', 's1', '6471 •••• ••••"
        " 0003', 'Pak A.', '2026.1', '2026-11-27T01:00:00+00:00', '2026-11-27T01:00:00+00:00');"
    )
    old.close()
    roster = Roster(str(path))
    now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    try:
        before = roster.get("e1", "2026-11-27")
        added = roster.add(
            day="2026-11-27",
            kader="kader01",
            pseudonym="p2",
            sealed_nik="s2",
            masked_nik="3171 •••• •••• 0121",
            label="Ibu B.",
            consent_version="2026.1",
            consent_at=now,
            now=now,
            region="317104",
            sex=Sex.FEMALE,
            age_band="20-29",
        )
        listed = {e.id: e for e, _rows in roster.day_list("2026-11-27")}
    finally:
        roster.close()
    assert before is not None and before.label == "Pak A."
    assert (before.region, before.sex, before.age_band) == (None, None, None)
    assert (added.region, added.sex, added.age_band) == ("317104", Sex.FEMALE, "20-29")
    assert listed[added.id] == added and listed["e1"] == before
