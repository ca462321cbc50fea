"""/cascade through HTTP on the real app: counts at each level, the drill-down links, scoping
by wilayah (another wilayah's place is a 404), charts with their tables, and no audit per view."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from httpx import Client

from central.web.accounts import AccountStore
from central.web.app import create_app
from central.web.audit import Auditor
from central.web.settings import WebSettings
from tests.central.cascade_seed import WILAYAH, follow_up, seed

from .helpers import EpochClock, add_staff, migrated, serve
from .test_app import sign_in

MONTH = "period=month&date=2026-12-02"


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    with migrated(url) as engine:
        seed(url)
        yield engine


@pytest.fixture
def client(seeded: sa.Engine, clock: EpochClock) -> Iterator[Client]:
    add_staff(AccountStore(seeded, clock, max_failures=5, window_s=900, lockout_s=900))
    app = create_app(seeded, WebSettings(wilayah=WILAYAH), clock)
    with serve(app) as served, Client(base_url=served.url) as client:
        yield client


def number(html: str, key: str) -> str:
    found = re.search(rf'<dd id="n-{key}">(.*?)</dd>', html, re.S)
    assert found is not None, key
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def child_rows(html: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for code, body in re.findall(r'<tr data-code="([^"]+)">(.*?)</tr>', html, re.S):
        cells = re.findall(r'<td class="num">(.*?)</td>', body, re.S)
        rows[code] = [re.sub(r"<[^>]+>", "", c).strip() for c in cells]
    return rows


def test_dinkes_drills_city_to_site(client: Client) -> None:
    sign_in(client, "dina")
    city = client.get(f"/cascade?{MONTH}")
    assert city.status_code == 200
    html = city.text
    assert number(html, "screened") == "7"
    assert number(html, "positive") == "4"
    assert number(html, "urgent") == "3"
    assert number(html, "target") == "target belum diisi"
    # Referrals are filed but nobody was reached yet: counted, and none.
    assert (number(html, "referred"), number(html, "came"), number(html, "confirmed")) == (
        "0", "0", "0",
    )  # fmt: skip
    assert "Dirujuk: sudah dihubungi" in html  # the page says what is counted
    assert child_rows(html) == {
        "647101": ["5", "3", "2", "target belum diisi"],
        "647102": ["1", "1", "1", "0.2%"],
    }
    assert 'href="/cascade?period=month&amp;date=2026-12-02&amp;kecamatan=647101"' in html
    # Each chart: an accessible SVG, then the same numbers as a table.
    assert html.count('role="img"') == 4
    assert html.count("<title id=") == 4
    assert html.count('class="chart-table"') == 4
    assert '<th scope="row">Hipertensi derajat 3</th><td class="num">1</td>' in html

    kec = client.get(f"/cascade?{MONTH}&kecamatan=647101").text
    assert number(kec, "screened") == "5"
    assert child_rows(kec) == {
        "6471011001": ["3", "2", "2", "0.3%"],
        "6471011002": ["2", "1", "0", "target belum diisi"],
    }
    kel = client.get(f"/cascade?{MONTH}&kelurahan=6471011001").text
    assert number(kel, "screened") == "3"
    assert number(kel, "target") == "1000"
    assert number(kel, "coverage") == "0.3%"
    assert child_rows(kel) == {
        "kios-sepinggan": ["3", "2", "2", "target belum diisi"],
        "kit-sepinggan": ["1", "0", "0", "target belum diisi"],
    }
    site = client.get(f"/cascade?{MONTH}&site=kit-sepinggan").text
    assert number(site, "screened") == "1"
    assert child_rows(site) == {}
    # The way back up names the kecamatan and the kelurahan.
    assert "kecamatan=647101" in site and "kelurahan=6471011001" in site


def test_a_puskesmas_user_sees_only_their_wilayah(client: Client) -> None:
    sign_in(client, "budi")
    html = client.get(f"/cascade?{MONTH}").text
    assert number(html, "screened") == "5"
    assert list(child_rows(html)) == ["647101"]
    for where in ("kecamatan=647102", "kelurahan=6471021001", "site=kios-manggar"):
        answer = client.get(f"/cascade?{MONTH}&{where}")
        assert answer.status_code == 404, where
        assert "Manggar" not in answer.text
    client.cookies.clear()
    sign_in(client, "citra")
    assert number(client.get(f"/cascade?{MONTH}").text, "screened") == "1"


def follow_up_counts(html: str) -> tuple[str, str, str]:
    return number(html, "referred"), number(html, "came"), number(html, "confirmed")


def test_the_worklist_s_follow_up_closes_the_cascade(client: Client, tmp_path: Path) -> None:
    # cascade_seed.FOLLOW_UPS: referred P1 P2 P4 P6, came P2 P4 P6, confirmed P2 P4.
    follow_up(f"sqlite:///{tmp_path / 'central.db'}")
    sign_in(client, "dina")
    html = client.get(f"/cascade?{MONTH}").text
    assert follow_up_counts(html) == ("4", "3", "2")
    assert "Dirujuk: sudah dihubungi" in html  # what is counted, said on the page
    assert follow_up_counts(client.get(f"/cascade?{MONTH}&kecamatan=647101").text) == (
        "3", "2", "1",
    )  # fmt: skip
    assert follow_up_counts(client.get(f"/cascade?{MONTH}&kelurahan=6471011002").text) == (
        "0", "0", "0",
    )  # fmt: skip
    english = client.get(f"/cascade?{MONTH}&lang=en").text
    assert "Referred: reached and sent to the Puskesmas" in english
    client.cookies.clear()
    sign_in(client, "budi")  # wilayah A: Manggar's confirmed P4 is not theirs
    assert follow_up_counts(client.get(f"/cascade?{MONTH}").text) == ("3", "2", "1")


def test_bad_filters_are_refused(client: Client) -> None:
    sign_in(client, "dina")
    assert client.get("/cascade?period=decade").status_code == 400
    assert client.get("/cascade?date=2026-13-40").status_code == 400
    assert client.get("/cascade?kecamatan=999999").status_code == 404


def test_english_and_no_audit_per_view(
    client: Client, seeded: sa.Engine, clock: EpochClock
) -> None:
    sign_in(client, "dina")
    before = Auditor(seeded, clock).search(page_size=1000).total
    html = client.get(f"/cascade?{MONTH}&lang=en").text
    assert "Residents screened" in html
    assert "target not set" in html
    assert Auditor(seeded, clock).search(page_size=1000).total == before


def test_a_page_that_needs_a_session(client: Client) -> None:
    answer = client.get("/cascade")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/cascade"
