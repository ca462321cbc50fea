"""/quality through HTTP on the real app, on both backends: the per-gateway table with its
totals, a gateway's devices, the charts with their tables, scoping by wilayah (another
wilayah's gateway is a 404 by URL), English, and no audit per view. The seeds and their
hand-worked counts are tests/central/test_quality.py's."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from httpx import Client

from central.store import CentralStore
from central.web.accounts import AccountStore
from central.web.app import MENU, create_app
from central.web.audit import Auditor
from central.web.settings import WebSettings
from tests.central.cascade_seed import WILAYAH
from tests.central.test_quality import seed_quality

from .helpers import EpochClock, add_staff, serve
from .test_app import sign_in

MONTH = "period=month&date=2026-12-02"
# readings, untrusted clock, control, HI/LO, unbound, out of policy, duplicates, dead letters
GW_A = ["7", "3", "1", "2", "2", "1", "3", "2"]
GW_B = ["3", "0", "0", "1", "1", "1", "1", "0"]


@pytest.fixture
def seeded(central_db_url: str) -> Iterator[sa.Engine]:
    store = CentralStore(central_db_url)
    try:
        seed_quality(store)
        yield store.engine
    finally:
        store.close()


@pytest.fixture
def client(seeded: sa.Engine, clock: EpochClock) -> Iterator[Client]:
    add_staff(AccountStore(seeded, clock, max_failures=5, window_s=900, lockout_s=900))
    app = create_app(seeded, WebSettings(wilayah=WILAYAH), clock)
    with serve(app) as served, Client(base_url=served.url) as client:
        yield client


def rows(html: str, attribute: str = "gateway") -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, body in re.findall(rf'<tr data-{attribute}="([^"]+)">(.*?)</tr>', html, re.S):
        cells = re.findall(r'<td class="num[^"]*" data-m="[a-z_]+">(.*?)</td>', body, re.S)
        found[key] = [re.sub(r"<[^>]+>", "", c).strip() for c in cells]
    return found


def test_the_menu_has_the_page() -> None:
    assert [p.ready for p in MENU if p.path == "/quality"] == [True]


def test_dinkes_sees_every_gateway_and_the_totals(client: Client) -> None:
    sign_in(client, "dina")
    answer = client.get(f"/quality?{MONTH}")
    assert answer.status_code == 200
    html = answer.text
    assert rows(html) == {
        "gw-a": GW_A,
        "gw-b": GW_B,
        "gw-x": ["1", "1", "0", "0", "0", "0", "0", "0"],
        "gw-z": ["0", "0", "0", "0", "0", "0", "0", "1"],
        "gw_a": ["0", "0", "0", "0", "0", "0", "0", "1"],
        "*": ["11", "4", "1", "3", "3", "2", "4", "4"],
    }
    assert "Kios Sepinggan" in html and "Kios Manggar" in html
    assert 'href="/quality?period=month&amp;date=2026-12-02&amp;gateway=gw-a"' in html
    # Two charts, each an accessible SVG followed by its numbers as a table.
    assert html.count('role="img"') == 2
    assert html.count('class="chart-table"') == 2
    assert '<th scope="row">Jam tidak tepercaya</th><td class="num">4</td>' in html
    # The worst gateways: gw-a has 3 + 1 + 2 + 2 + 1 + 3 + 2 = 14 problems.
    assert '<th scope="row">gw-a</th><td class="num">14</td>' in html


def test_a_gateway_and_its_devices(client: Client) -> None:
    sign_in(client, "dina")
    html = client.get(f"/quality?{MONTH}&gateway=gw-a").text
    assert rows(html) == {"gw-a": GW_A}
    assert rows(html, "device") == {
        "test:bp-1": ["4", "2", "0", "0", "1", "1", "–", "–"],
        "test:gl-1": ["3", "1", "1", "2", "1", "0", "–", "–"],
    }
    assert html.count('role="img"') == 1
    # November: the one reading received then, and that month's duplicates.
    november = client.get("/quality?period=month&date=2026-11-15&gateway=gw-a").text
    assert rows(november) == {"gw-a": ["1", "1", "0", "0", "0", "0", "5", "1"]}
    # A gateway central knows with nothing in the period, and one it never heard of.
    quiet = client.get("/quality?period=day&date=2026-12-25&gateway=gw-b")
    assert quiet.status_code == 200
    assert rows(quiet.text) == {"gw-b": ["0"] * 8}
    assert client.get(f"/quality?{MONTH}&gateway=gw-none").status_code == 404


def test_others_see_only_their_wilayahs_gateways(client: Client) -> None:
    sign_in(client, "budi")  # Puskesmas of wilayah A: kios-sepinggan's gw-a
    html = client.get(f"/quality?{MONTH}").text
    assert rows(html) == {"gw-a": GW_A, "*": GW_A}
    assert "gw-b" not in html and "Manggar" not in html
    for other in ("gw-b", "gw-x", "gw-z", "gw_a", "gw-none"):
        answer = client.get(f"/quality?{MONTH}&gateway={other}")
        assert answer.status_code == 404, other
        assert "gw-b" not in answer.text or other == "gw-b"
    client.cookies.clear()
    sign_in(client, "citra")  # coordinator of wilayah B: kios-manggar's gw-b
    assert rows(client.get(f"/quality?{MONTH}").text) == {"gw-b": GW_B, "*": GW_B}
    assert client.get(f"/quality?{MONTH}&gateway=gw-a").status_code == 404
    assert rows(client.get(f"/quality?{MONTH}&gateway=gw-b").text) == {"gw-b": GW_B}


def test_bad_filters_are_refused(client: Client) -> None:
    sign_in(client, "dina")
    assert client.get("/quality?period=decade").status_code == 400
    assert client.get("/quality?date=2026-13-40").status_code == 400
    assert client.get(f"/quality?{MONTH}&page=2").status_code == 404
    assert client.get(f"/quality?{MONTH}&page=0").status_code == 400


def test_english_and_no_audit_per_view(
    client: Client, seeded: sa.Engine, clock: EpochClock
) -> None:
    sign_in(client, "dina")
    before = Auditor(seeded, clock).search(page_size=1000).total
    html = client.get(f"/quality?{MONTH}&lang=en").text
    assert "Untrusted clock" in html and "Dead letters" in html
    assert "Total (5 gateways)" in html
    assert Auditor(seeded, clock).search(page_size=1000).total == before


def test_a_page_that_needs_a_session(client: Client) -> None:
    answer = client.get("/quality")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/quality"


def test_pages_of_gateways_keep_the_whole_total(seeded: sa.Engine, clock: EpochClock) -> None:
    add_staff(AccountStore(seeded, clock, max_failures=5, window_s=900, lockout_s=900))
    app = create_app(seeded, WebSettings(wilayah=WILAYAH, page_size=2), clock)
    with serve(app) as served, Client(base_url=served.url) as client:
        sign_in(client, "dina")
        first = client.get(f"/quality?{MONTH}").text
        assert list(rows(first)) == ["gw-a", "gw-b", "*"]
        assert rows(first)["*"][0] == "11"
        assert "Halaman 1 dari 3" in first
        assert 'href="/quality?period=month&amp;date=2026-12-02&amp;page=2"' in first
        assert list(rows(client.get(f"/quality?{MONTH}&page=3").text)) == ["gw_a", "*"]
