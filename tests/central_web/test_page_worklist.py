"""The worklist page through HTTP: scope, 404 across wilayah, transitions, CSRF, NIK reveal
and CSV export, each audited."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from httpx import Client

from central.referrals import ReferralBook, referrals
from central.web.accounts import AccountStore
from central.web.app import create_app
from central.web.settings import WebSettings
from central.wilayah import parse_wilayah
from core.sealing import generate_keypair
from tests.central.referral_helpers import DAY_0, pseudonym, screening, store_all

from .helpers import EpochClock, add_staff, serve
from .test_app import actions, csrf_of, sign_in

NIK_ANI = "6471014101900001"
KEYS = generate_keypair()
WILAYAH = parse_wilayah(
    {
        "kecamatan": [
            {"code": "647101", "name": "Balikpapan Tengah"},
            {"code": "647102", "name": "Balikpapan Utara"},
        ],
        "kelurahan": [
            {"code": "6471011001", "name": "Karang Jati", "kecamatan": "647101"},
            {"code": "6471011002", "name": "Gunung Sari Ilir", "kecamatan": "647101"},
            {"code": "6471021001", "name": "Batu Ampar", "kecamatan": "647102"},
        ],
        "site": [
            {"id": "site-a1", "name": "Kios Karang Jati", "kelurahan": "6471011001"},
            {"id": "site-b1", "name": "Kios Batu Ampar", "kelurahan": "6471021001"},
        ],
    }
)


@dataclass
class World:
    client: Client
    engine: sa.Engine
    clock: EpochClock

    def referral_of(self, resident: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(referrals.c.id).where(referrals.c.pseudonym == pseudonym(resident))
                ).scalar_one()
            )


@pytest.fixture
def world(engine: sa.Engine, clock: EpochClock, accounts: AccountStore) -> Iterator[World]:
    add_staff(accounts)
    clock.advance(DAY_0.timestamp() - clock() + 3600)
    store_all(
        str(engine.url),
        [
            screening(1, "ani", bp=(190, 100), nik=NIK_ANI, public_key=KEYS.public_key),
            screening(2, "budi", glucose=250, day=-20),  # a week's due, long past
            screening(3, "cici", bp=(150, 95), site_id="site-b1"),
            screening(4, "dedi", bp=(120, 80)),
        ],
    )
    # The page files new readings itself; done here too so the tests know the ids first.
    ReferralBook(engine, clock, WILAYAH).refresh()
    settings = WebSettings(wilayah=WILAYAH, nik_private_key=KEYS.private_key)
    with serve(create_app(engine, settings, clock)) as served, Client(base_url=served.url) as c:
        yield World(c, engine, clock)


def rows_of(html: str) -> list[str]:
    return re.findall(r'<a href="/worklist/(\d+)">', html)


def test_each_role_sees_its_wilayah_overdue_first(world: World) -> None:
    sign_in(world.client, "budi")
    page = world.client.get("/worklist")
    assert page.status_code == 200
    assert rows_of(page.text) == [
        str(world.referral_of("budi")),  # overdue first
        str(world.referral_of("ani")),
    ]
    assert page.text.count('class="overdue"') == 1
    assert "Karang Jati (6471011001)" in page.text
    assert "Batu Ampar" not in page.text
    filtered = world.client.get("/worklist", params={"severity": "urgent"})
    assert rows_of(filtered.text) == [str(world.referral_of("ani"))]
    world.client.cookies.clear()
    sign_in(world.client, "citra")
    assert rows_of(world.client.get("/worklist").text) == [str(world.referral_of("cici"))]
    world.client.cookies.clear()
    sign_in(world.client, "dina")
    assert len(rows_of(world.client.get("/worklist").text)) == 3
    # A result stored after the last look is on the list at the next one.
    store_all(str(world.engine.url), [screening(5, "eka", glucose=40, site_id="site-b1")])
    assert len(rows_of(world.client.get("/worklist").text)) == 4


def test_another_wilayahs_referral_is_a_404_by_any_url(world: World) -> None:
    token = sign_in(world.client, "citra")
    other = world.referral_of("ani")
    assert world.client.get(f"/worklist/{other}").status_code == 404
    answer = world.client.post(
        f"/worklist/{other}/status", data={"csrf_token": token, "status": "contacted"}
    )
    assert answer.status_code == 404
    answer = world.client.post(f"/worklist/{other}/note", data={"csrf_token": token, "note": "x"})
    assert answer.status_code == 404
    assert world.client.get("/worklist/999999").status_code == 404
    with world.engine.connect() as conn:
        status = conn.execute(
            sa.select(referrals.c.status).where(referrals.c.id == other)
        ).scalar_one()
    assert status == "new"


def test_a_referral_is_worked_to_confirmed_with_csrf(world: World) -> None:
    token = sign_in(world.client, "budi")
    ani = world.referral_of("ani")
    refused = world.client.post(f"/worklist/{ani}/status", data={"status": "contacted"})
    assert refused.status_code == 403  # no CSRF token
    wrong = world.client.post(
        f"/worklist/{ani}/status", data={"csrf_token": token, "status": "confirmed"}
    )
    assert wrong.status_code == 409
    for status, note in (("contacted", "=ditelepon"), ("came", ""), ("confirmed", "")):
        answer = world.client.post(
            f"/worklist/{ani}/status", data={"csrf_token": token, "status": status, "note": note}
        )
        assert answer.status_code == 303, answer.text
    page = world.client.get(f"/worklist/{ani}")
    assert "Terkonfirmasi" in page.text
    assert "Rujukan ini sudah selesai." in page.text
    assert "Tekanan darah 190/100 mmHg" in page.text
    got = [a for a in actions(world.engine, world.clock) if a[0] == "budi"]
    assert got.count(("budi", "update_referral", "ok")) == 3
    assert ("budi", "csrf_refused", "refused") in got


def test_the_nik_is_masked_until_revealed_and_each_reveal_is_audited(world: World) -> None:
    ani = world.referral_of("ani")
    token = sign_in(world.client, "citra")
    # A coordinator has no contact details at all (and ani is not in citra's wilayah).
    assert world.client.post(f"/worklist/{ani}/nik", data={"csrf_token": token}).status_code == 403
    world.client.cookies.clear()
    token = sign_in(world.client, "budi")
    page = world.client.get(f"/worklist/{ani}")
    assert NIK_ANI not in page.text
    assert "Tampilkan NIK" in page.text
    assert world.client.post(f"/worklist/{ani}/nik").status_code == 403  # CSRF
    shown = world.client.post(f"/worklist/{ani}/nik", data={"csrf_token": csrf_of(page.text)})
    assert shown.status_code == 200
    assert NIK_ANI in shown.text
    assert world.client.get(f"/worklist/{ani}").text.count(NIK_ANI) == 0  # not kept shown
    got = actions(world.engine, world.clock)
    assert got.count(("budi", "reveal_nik", "ok")) == 1
    assert ("citra", "forbidden", "refused") in got
    assert token


def test_csv_is_scoped_without_nik_unless_asked_and_audited(world: World) -> None:
    token = sign_in(world.client, "budi")
    ani = world.referral_of("ani")
    world.client.post(
        f"/worklist/{ani}/status",
        data={"csrf_token": token, "status": "contacted", "note": "=HYPERLINK(1)"},
    )
    plain = world.client.get("/worklist.csv")
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(plain.text)))
    assert {r["referral_id"] for r in rows} == {
        str(world.referral_of("ani")),
        str(world.referral_of("budi")),
    }
    assert "nik" not in rows[0]
    assert NIK_ANI not in plain.text
    assert {r["notes"] for r in rows} == {"'=HYPERLINK(1)", ""}
    assert [r["overdue"] for r in rows] == ["yes", "no"]
    with_nik = world.client.post("/worklist.csv", data={"csrf_token": token, "include_nik": "yes"})
    rows = list(csv.DictReader(io.StringIO(with_nik.text)))
    assert {r["nik"] for r in rows} == {NIK_ANI, ""}
    got = actions(world.engine, world.clock)
    assert ("budi", "export_worklist", "ok") in got
    assert ("budi", "export_personal", "ok") in got
    world.client.cookies.clear()
    token = sign_in(world.client, "citra")
    assert (
        world.client.post(
            "/worklist.csv", data={"csrf_token": token, "include_nik": "yes"}
        ).status_code
        == 403
    )
    rows = list(csv.DictReader(io.StringIO(world.client.get("/worklist.csv").text)))
    assert [r["referral_id"] for r in rows] == [str(world.referral_of("cici"))]
