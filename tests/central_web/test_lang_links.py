"""The language links of every page, through HTTP: switching language reloads the same view.

A drilled cascade or a filtered list keeps its place and filters; the page answering a POST
(a revealed NIK, a refused change) links to its own GET page, never back to the POST route.
"""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from httpx import Client

from central.referrals import ReferralBook, referrals
from central.web.accounts import AccountStore
from central.web.app import create_app
from central.web.settings import WebSettings
from central.wilayah import parse_wilayah
from core.sealing import generate_keypair
from tests.central.referral_helpers import DAY_0, screening, store_all

from .helpers import ROLES_WILAYAH_TOML, EpochClock, add_staff, serve
from .test_app import sign_in

WILAYAH = parse_wilayah(tomllib.loads(ROLES_WILAYAH_TOML))
KEYS = generate_keypair()


@pytest.fixture
def client(engine: sa.Engine, clock: EpochClock, accounts: AccountStore) -> Iterator[Client]:
    add_staff(accounts)  # budi: a Puskesmas of kelurahan 6471011001 and 6471011002
    clock.advance(DAY_0.timestamp() - clock() + 3600)
    store_all(
        str(engine.url),
        [
            screening(
                1, "ani", bp=(190, 100), site_id="kios-sepinggan", nik="6471014101900003",
                public_key=KEYS.public_key,
            ),
        ],
    )  # fmt: skip
    ReferralBook(engine, clock, WILAYAH).refresh()
    settings = WebSettings(wilayah=WILAYAH, nik_private_key=KEYS.private_key)
    with serve(create_app(engine, settings, clock)) as served, Client(base_url=served.url) as c:
        yield c


def english_link(page: str) -> str:
    found = re.search(r'<a href="([^"]*)" lang="en">', page)
    assert found is not None, "no link to the English page"
    return html.unescape(found.group(1))


def test_switching_language_keeps_the_cascade_place_and_filters(client: Client) -> None:
    sign_in(client, "budi")
    query = "period=year&date=2026-11-02&kelurahan=6471011001"
    page = client.get(f"/cascade?{query}")
    assert page.status_code == 200
    link = english_link(page.text)
    assert link == f"/cascade?{query}&lang=en"
    english = client.get(link)
    assert "Screening cascade" in english.text
    assert "Sepinggan" in english.text and 'value="year" selected' in english.text
    # Back again: the Indonesian link carries no stale lang=en.
    found = re.search(r'<a href="([^"]*)" lang="id">', english.text)
    assert found is not None
    assert html.unescape(found.group(1)) == f"/cascade?{query}&lang=id"


def test_the_page_answering_a_post_links_to_its_own_get_page(
    client: Client, engine: sa.Engine
) -> None:
    token = sign_in(client, "budi")
    with engine.connect() as conn:
        ani = int(conn.execute(sa.select(referrals.c.id)).scalar_one())
    revealed = client.post(f"/worklist/{ani}/nik", data={"csrf_token": token})
    assert revealed.status_code == 200
    link = english_link(revealed.text)
    assert link == f"/worklist/{ani}?lang=en"
    assert client.get(link).status_code == 200  # was a 405: a GET of the POST-only route
    assert client.get(f"/worklist/{ani}?lang=id").status_code == 200  # the cookie: back to id
    refused = client.post(f"/worklist/{ani}/status", data={"csrf_token": token, "status": "came"})
    assert refused.status_code == 409
    assert english_link(refused.text) == f"/worklist/{ani}?lang=en"
    # A page answering a POST that names no page of its own: home, never the POST route.
    forged = client.post(f"/worklist/{ani}/note", data={"csrf_token": "forged", "note": "x"})
    assert forged.status_code == 403
    assert english_link(forged.text) == "/?lang=en"


def test_the_login_page_keeps_where_it_leads(client: Client) -> None:
    page = client.get("/login", params={"next": "/worklist"})
    assert english_link(page.text) == "/login?next=%2Fworklist&lang=en"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    wrong = client.post(
        "/login",
        data={
            "username": "budi", "password": "salah", "csrf_token": token.group(1),
            "next": "/worklist",
        },
    )  # fmt: skip
    assert wrong.status_code == 401
    assert english_link(wrong.text) == "/login?next=%2Fworklist&lang=en"
    # The retry still leads where the user was going (it once fell back to home).
    assert 'name="next" value="/worklist"' in wrong.text
