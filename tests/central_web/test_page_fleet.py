"""/fleet and /fleet/<id> through HTTP on the real app, on SQLite and PostgreSQL: the list with
its alarms, sorting and filters, scoping by wilayah (a gateway of another wilayah is a 404 by
its URL, like one that does not exist), the detail with devices, kit assurance and timeline,
the self-refreshing fragment, and the page's own script allowed by its CSP only."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from httpx import Client

from central.fleet_store import FleetStore, parse_status
from central.web.accounts import AccountStore
from central.web.app import MENU, create_app
from central.web.settings import WebSettings
from tests.central.cascade_seed import WILAYAH
from tests.fleet.helpers import status, topic

from .helpers import EpochClock, add_staff, migrated, serve
from .test_app import sign_in

DAY_S = 86400.0


@dataclass
class World:
    client: Client
    engine: sa.Engine
    clock: EpochClock
    store: FleetStore

    def report(self, gateway_id: str, state: str = "online", **extra: Any) -> None:
        """A status as the FleetMonitor would apply it, at the clock's now."""
        now = self.clock()
        self.store.apply(
            parse_status(topic(gateway_id), status(gateway_id, now, state, **extra)), now
        )


def _device(name: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "transport": "ble",
        "kind": "glucose",
        "state": "idle",
        "last_seen": "2026-11-27T01:58:00+00:00",
        "last_reading_at": "2026-11-27T01:57:00+00:00",
        "battery_pct": 55,
        "readings_total": 3,
        "last_error": None,
        "failures": 0,
        "assurance": {"status": "ok", "reasons": []},
    }
    body.update(extra)
    return body


@pytest.fixture
def world(central_db_url: str, clock: EpochClock) -> Iterator[World]:
    with migrated(central_db_url) as engine:
        add_staff(AccountStore(engine, clock, max_failures=5, window_s=900, lockout_s=900))
        store = FleetStore(engine)
        app = create_app(engine, WebSettings(wilayah=WILAYAH), clock)
        with serve(app) as served, Client(base_url=served.url) as client:
            w = World(client, engine, clock, store)
            outbox = {"pending": 40, "published": 2, "unconfirmed": 42, "max_readings": 500000}
            # Wilayah A (budi): a kiosk with a full outbox, a kit out of policy, a kiosk
            # whose clock is untrusted; wilayah B (citra): one kiosk; no kelurahan: one.
            w.report(
                "gw-sep-kios",
                site_id="kios-sepinggan",
                kind="kiosk",
                alarms=["outbox_full"],
                outbox={**outbox, "oldest_pending_age_s": 7200.0},
            )
            w.report(
                "gw-sep-kit",
                site_id="kit-sepinggan",
                kind="kit",
                version="0.2.0",
                outbox={"pending": 30, "published": 0, "oldest_pending_age_s": 4 * DAY_S},
                devices=[
                    _device(
                        "glu-kit",
                        battery_pct=8,
                        last_error="strip error E-3",
                        assurance={
                            "status": "out_of_policy",
                            "reasons": ["strips_expired", "battery_critical"],
                        },
                    ),
                    _device("bp-kit", kind="blood_pressure"),
                ],
            )
            w.report("gw-damai", site_id="kios-damai", kind="kiosk", clock={"trusted": False})
            w.report("gw-manggar", site_id="kios-manggar", kind="kiosk")
            clock.advance(30)
            # gw-damai crashed: the broker published its Last Will.
            w.report("gw-damai", state="offline")
            w.report("gw-luar", site_id="kios-luar", kind="kiosk")
            clock.advance(30)
            yield w


def gateways(html: str) -> list[str]:
    return re.findall(r'<tr data-gateway="([^"]+)"', html)


def row_of(html: str, gateway_id: str) -> str:
    found = re.search(rf'<tr data-gateway="{re.escape(gateway_id)}".*?</tr>', html, re.S)
    assert found is not None, gateway_id
    return found.group(0)


def alarm_codes(html: str, gateway_id: str) -> list[str]:
    return re.findall(r'data-code="([^"]+)"', row_of(html, gateway_id))


def test_dinkes_sees_every_gateway_with_its_state_and_alarms(world: World) -> None:
    sign_in(world.client, "dina")
    answer = world.client.get("/fleet")
    assert answer.status_code == 200
    html = answer.text
    assert gateways(html) == ["gw-damai", "gw-luar", "gw-manggar", "gw-sep-kios", "gw-sep-kit"]
    assert "5 gateway: 4 terhubung, 1 terputus" in html
    damai = row_of(html, "gw-damai")
    assert 'data-state="offline"' in damai
    assert "Terputus" in damai and "selama 30 detik" in damai
    assert alarm_codes(html, "gw-damai") == ["offline", "clock_untrusted"]
    assert alarm_codes(html, "gw-sep-kios") == ["outbox_full"]
    assert "Antrean data penuh" in row_of(html, "gw-sep-kios")
    # 40 pending + 2 published; the oldest was 2 h old when it spoke, a minute ago.
    kios = row_of(html, "gw-sep-kios")
    assert '<td data-label="Antrean" class="num">42</td>' in kios
    assert "2 jam 1 menit" in kios
    assert "1 menit lalu" in kios
    # The kit: not synced for days, a device error, and a device out of policy.
    assert alarm_codes(html, "gw-sep-kit") == [
        "device_check:glu-kit",
        "kit_unsynced",
        "device_error:glu-kit",
        "out_of_policy",
    ]
    assert "1 alat perlu diperiksa" in row_of(html, "gw-sep-kit")
    assert "0.2.0" in row_of(html, "gw-sep-kit")
    assert "Kit kader Sepinggan · Sepinggan" in row_of(html, "gw-sep-kit")
    # Its own script, and a reload link for a browser without one.
    assert '<script src="/static/fleet.js" defer></script>' in html
    assert 'data-src="/fleet/-/rows?' in html
    assert 'id="fleet-reload"' in html
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert "script-src" not in world.client.get("/fleet/gw-luar").headers["content-security-policy"]
    assert world.client.get("/static/fleet.js").status_code == 200


def test_english(world: World) -> None:
    sign_in(world.client, "dina")
    html = world.client.get("/fleet?lang=en").text
    assert "Gateway fleet" in html
    assert "5 gateways: 4 online, 1 offline" in html
    assert "Outbox full" in row_of(html, "gw-sep-kios")
    assert "for 30 s" in row_of(html, "gw-damai")


def test_sorting(world: World) -> None:
    sign_in(world.client, "dina")

    def order(query: str) -> list[str]:
        answer = world.client.get(f"/fleet?{query}")
        assert answer.status_code == 200
        return gateways(answer.text)

    assert order("sort=name&desc=1") == [
        "gw-sep-kit",
        "gw-sep-kios",
        "gw-manggar",
        "gw-luar",
        "gw-damai",
    ]
    # Offline first, then the worst alarm (critical before warning before none).
    assert order("sort=state")[:2] == ["gw-damai", "gw-sep-kios"]
    assert order("sort=backlog&desc=1")[:2] == ["gw-sep-kios", "gw-sep-kit"]
    assert order("sort=oldest&desc=1")[:2] == ["gw-sep-kit", "gw-sep-kios"]
    # gw-luar spoke last; gw-damai's Last Will did not move its last_seen.
    assert order("sort=last_seen&desc=1")[0] == "gw-luar"
    # The sorted column's link flips the direction; the others start ascending.
    html = world.client.get("/fleet?sort=backlog&kind=kiosk").text
    assert 'href="/fleet?state=&amp;kind=kiosk&amp;alarm=&amp;sort=backlog&amp;desc=1"' in html
    assert 'aria-sort="ascending"' in html
    # A key the page does not know is the name order, not an error.
    assert order("sort=nonsense") == order("")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=offline", ["gw-damai"]),
        ("state=online&kind=kit", ["gw-sep-kit"]),
        ("kind=kiosk", ["gw-damai", "gw-luar", "gw-manggar", "gw-sep-kios"]),
        ("alarm=outbox_full", ["gw-sep-kios"]),
        ("alarm=clock_untrusted", ["gw-damai"]),
        ("alarm=kit_unsynced", ["gw-sep-kit"]),
        ("alarm=device_error", ["gw-sep-kit"]),
        ("alarm=any", ["gw-damai", "gw-sep-kios", "gw-sep-kit"]),
        ("state=bogus", ["gw-damai", "gw-luar", "gw-manggar", "gw-sep-kios", "gw-sep-kit"]),
    ],
)
def test_filters(world: World, query: str, expected: list[str]) -> None:
    sign_in(world.client, "dina")
    assert gateways(world.client.get(f"/fleet?{query}").text) == expected


def test_scoped_accounts_see_only_their_wilayah(world: World) -> None:
    sign_in(world.client, "budi")  # puskesmas, kelurahan 6471011001 and 6471011002
    assert gateways(world.client.get("/fleet").text) == ["gw-damai", "gw-sep-kios", "gw-sep-kit"]
    fragment = world.client.get("/fleet/-/rows?sort=name")
    assert gateways(fragment.text) == ["gw-damai", "gw-sep-kios", "gw-sep-kit"]
    assert world.client.get("/fleet/gw-sep-kit").status_code == 200
    # Another wilayah's gateway, one in no kelurahan, and one that does not exist: all the
    # same 404 (but for the typed URL), so the answer does not confirm an id exists.
    missing = world.client.get("/fleet/gw-nowhere")
    assert missing.status_code == 404
    assert "Halaman tidak ditemukan" in missing.text
    for other in ("gw-manggar", "gw-luar"):
        answer = world.client.get(f"/fleet/{other}")
        assert answer.status_code == 404
        assert answer.text.replace(other, "gw-nowhere") == missing.text

    world.client.cookies.clear()
    sign_in(world.client, "citra")  # coordinator, kelurahan 6471021001
    assert gateways(world.client.get("/fleet").text) == ["gw-manggar"]
    assert world.client.get("/fleet/gw-sep-kit").status_code == 404
    assert gateways(world.client.get("/fleet/-/rows").text) == ["gw-manggar"]


def test_signed_out_is_sent_to_login(world: World) -> None:
    for path in ("/fleet", "/fleet/-/rows", "/fleet/gw-luar"):
        answer = world.client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")


def test_detail_devices_assurance_and_timeline(world: World) -> None:
    sign_in(world.client, "dina")
    answer = world.client.get("/fleet/gw-sep-kit")
    assert answer.status_code == 200
    html = answer.text
    assert "<h1>Gateway gw-sep-kit</h1>" in html
    assert "Kit kader Sepinggan" in html and "6471011001" in html
    device = re.search(r'<tr data-device="glu-kit".*?</tr>', html, re.S)
    assert device is not None
    glu = device.group(0)
    assert 'data-assurance="out_of_policy"' in glu
    assert "Alat perlu diperiksa" in glu
    assert re.findall(r'data-reason="([^"]+)"', glu) == ["strips_expired", "battery_critical"]
    assert "Strip kedaluwarsa" in glu and "Baterai kritis" in glu
    assert "8%" in glu and "strip error E-3" in glu
    bp = re.search(r'<tr data-device="bp-kit".*?</tr>', html, re.S)
    assert bp is not None and "Layak" in bp.group(0)
    # The timeline, newest first: first seen, then the alarms it raised at once.
    kinds = re.findall(r'<tr data-kind="([^"]+)"', html)
    assert kinds == ["device_error", "alarm_raised", "alarm_raised", "alarm_raised", "first_seen"]
    assert "Alarm muncul" in html and "Pertama terlihat" in html

    damai = world.client.get("/fleet/gw-damai?lang=en").text
    assert re.findall(r'<tr data-kind="([^"]+)"', damai)[0] == "went_offline"
    assert "Went offline" in damai
    assert "untrusted" in damai
    # A gateway that does not judge its devices says so, rather than "ok".
    luar = world.client.get("/fleet/gw-luar?lang=id").text
    assert "tidak dinilai" in luar


def test_a_last_will_shows_in_the_fragment_the_page_polls(world: World) -> None:
    sign_in(world.client, "dina")
    before = world.client.get("/fleet/-/rows?state=online").text
    assert "gw-manggar" in gateways(before)
    assert "<html" not in before  # the table alone, not a page
    world.report("gw-manggar", state="offline")
    after = world.client.get("/fleet/-/rows").text
    assert 'data-state="offline"' in row_of(after, "gw-manggar")
    assert "gw-manggar" not in gateways(world.client.get("/fleet/-/rows?state=online").text)


def test_a_device_out_of_policy_survives_the_store(world: World) -> None:
    """The assurance the status carried is kept in the row as the gateway said it."""
    from central.fleet_store import fleet_gateways

    with world.engine.connect() as conn:
        raw = conn.execute(
            sa.select(fleet_gateways.c.devices).where(fleet_gateways.c.gateway_id == "gw-sep-kit")
        ).scalar_one()
    devices = {d["name"]: d for d in json.loads(raw)}
    assert devices["glu-kit"]["assurance"] == {
        "status": "out_of_policy",
        "reasons": ["strips_expired", "battery_critical"],
    }


def test_the_menu_entry_is_ready() -> None:
    assert next(p for p in MENU if p.path == "/fleet").ready


@pytest.mark.parametrize(
    ("assurance", "reason"),
    [
        ("ok", "assurance must be an object"),
        ({"status": "fine"}, "assurance.status must be ok, out_of_policy or unknown"),
        ({"status": "out_of_policy", "reasons": "strips_expired"}, "assurance.reasons"),
        ({"status": "out_of_policy", "reasons": ["Strips Expired!"]}, "assurance.reasons"),
        ({"status": "unknown", "reasons": [f"r{i}" for i in range(17)]}, "assurance.reasons"),
    ],
)
def test_a_malformed_assurance_is_a_typed_error_naming_the_field(
    assurance: object, reason: str
) -> None:
    from central.fleet_store import FleetStatusError

    payload = status("gw-x", 1.0, devices=[_device("glu", assurance=assurance)])
    with pytest.raises(FleetStatusError, match=re.escape(f"devices[0].{reason}")):
        parse_status(topic("gw-x"), payload)


def test_a_device_without_assurance_is_not_judged() -> None:
    payload = status("gw-x", 1.0, devices=[_device("glu", assurance=None)])
    (device,) = parse_status(topic("gw-x"), payload).devices
    assert device.assurance is None


def test_a_city_s_fleet_comes_in_pages_and_the_summary_counts_them_all(world: World) -> None:
    for n in range(205):  # with the world's five: 210 gateways
        world.report(f"gw-x{n:03d}", site_id="kios-sepinggan", kind="kiosk")
    sign_in(world.client, "dina")
    first = world.client.get("/fleet", params={"sort": "name"}).text
    assert len(gateways(first)) == 100
    assert "210 gateway" in first and "Halaman 1 dari 3" in first
    assert 'href="/fleet?state=&amp;kind=&amp;alarm=&amp;sort=name&amp;desc=&amp;page=2"' in first
    last = world.client.get("/fleet", params={"sort": "name", "page": 3}).text
    assert len(gateways(last)) == 10 and "Halaman 3 dari 3" in last
    # Every gateway once across the pages, in name order.
    pages = [first, world.client.get("/fleet", params={"sort": "name", "page": 2}).text, last]
    names = [g for html in pages for g in gateways(html)]
    assert names == sorted(names) and len(set(names)) == 210
    # A page past the end shows the last; the poller asks for the page on screen.
    assert gateways(world.client.get("/fleet", params={"page": 99}).text) == gateways(last)
    rows = world.client.get("/fleet/-/rows", params={"sort": "name", "page": 2}).text
    assert gateways(rows) == gateways(pages[1])
    assert (
        'data-src="/fleet/-/rows?state=&amp;kind=&amp;alarm=&amp;sort=name&amp;desc=&amp;page=3"'
        in last
    )
