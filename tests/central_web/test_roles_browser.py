"""Each role's walk through the programme's pages in real Chromium (Debian, Playwright) against
one real `gempita central` process on PostgreSQL, fed over a real mosquitto.

Seeding goes the production path: each gateway of tests/central_web/helpers.py
(`ROLES_GATEWAYS`) publishes its retained online status (central's fleet monitor places it at
its site) and then its readings, payload v2 (one gateway still on v1) with the NIK sealed to
central's key, at QoS 1; the fixture waits for central's receipt of every reading. The expected
counts below are worked out by hand from `ROLES_SCREENINGS`, not computed. Referrals come to
exist on read: the worklist files positive readings when it is opened (central/referrals.py).

Accounts (made with `gempita central users add`): Dinkes `dina` (whole city), Puskesmas `budi`
(kelurahan Sepinggan only), coordinator `citra` (kelurahan Manggar). Each signs in once
through the form; the signed-in page is reused across the module.

Screenshots of every page visited, at 1280x800 and 360x740, go under the module's tmp dir
(paths printed); a page showing a revealed NIK is shot with the NIK masked, so no NIK in
clear reaches the disk. The CSV with NIKs is read in memory, never downloaded.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Locator, Page, sync_playwright

from central.fleet_store import fleet_gateways
from central.referrals import referrals
from central.web.audit import AuditEntry, Auditor
from core.sealing import generate_keypair
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.postgres import PostgresServer
from tests.support.processes import ROOT, central_process

from .helpers import (
    PASSWORD,
    ROLES_GATEWAYS,
    ROLES_SCREENINGS,
    ROLES_WILAYAH_TOML,
    publish_screenings,
    roles_pseudonym,
)
from .test_browser import ARGS, CHROMIUM, DESKTOP, PHONE, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.slow]

MONTH = "period=month&date=2026-10-14"  # the seeded screenings' month
NIK_SARI = next(s.nik for s in ROLES_SCREENINGS if s.nik)
STAFF = {
    "dina": ["--role", "dinkes"],
    "budi": ["--role", "puskesmas", "--puskesmas", "pkm-sepinggan", "--wilayah", "6471011001"],
    "citra": ["--role", "coordinator", "--wilayah", "6471021001"],
}
NO_TARGET = "target belum diisi"


@dataclass
class World:
    url: str
    db: str
    shots: Path
    browser: Browser
    pages: dict[str, Page] = field(default_factory=dict)

    def page(self, name: str) -> Page:
        """`name` signed in through the login form (once per module), on the home page."""
        if name not in self.pages:
            context = self.browser.new_context(viewport=DESKTOP, accept_downloads=True)
            page = context.new_page()
            sign_in(page, self.url, name)
            page.wait_for_url(f"{self.url}/")
            assert page.locator("h1").inner_text() == "Beranda"
            self.shoot(page, f"{name}-home")
            self.pages[name] = page
        return self.pages[name]

    def shoot(self, page: Page, name: str, mask: list[Locator] | None = None) -> None:
        """The page as it is, at 1280x800 and at 360x740 (which must not scroll sideways)."""
        for view, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
            page.set_viewport_size(view)
            if view is PHONE:
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], f"{name}: {width} px wide on a phone"
            path = self.shots / f"{name}-{label}.png"
            page.screenshot(path=str(path), full_page=True, mask=mask or [])
            print(f"screenshot: {path}")
        page.set_viewport_size(DESKTOP)

    def referral_id(self, who: str) -> int:
        engine = sa.create_engine(self.db)
        try:
            with engine.connect() as conn:
                return int(
                    conn.execute(
                        sa.select(referrals.c.id).where(
                            referrals.c.pseudonym == roles_pseudonym(who)
                        )
                    ).scalar_one()
                )
        finally:
            engine.dispose()

    def status_of(self, who: str) -> str:
        engine = sa.create_engine(self.db)
        try:
            with engine.connect() as conn:
                return str(
                    conn.execute(
                        sa.select(referrals.c.status).where(
                            referrals.c.pseudonym == roles_pseudonym(who)
                        )
                    ).scalar_one()
                )
        finally:
            engine.dispose()


def gempita(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _wait_for_fleet(db: str, timeout_s: float = 30.0) -> None:
    engine = sa.create_engine(db)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            with engine.connect() as conn:
                placed = {
                    str(gw): site
                    for gw, site in conn.execute(
                        sa.select(fleet_gateways.c.gateway_id, fleet_gateways.c.site_id)
                    )
                }
            if placed == {gw: site for gw, (site, _kind) in ROLES_GATEWAYS.items()}:
                return
            assert time.monotonic() < deadline, f"the fleet table holds {placed}"
            time.sleep(0.1)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def world(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("roles")
    (root / "broker").mkdir()
    broker = Mosquitto(root / "broker")
    broker.start()
    name = postgres.create_database()
    db = postgres.url(name)
    keys = generate_keypair()
    (root / "nik.key").write_text(keys.private_key.hex() + "\n", encoding="utf-8")
    (root / "wilayah.toml").write_text(ROLES_WILAYAH_TOML, encoding="utf-8")
    config = root / "central.toml"
    config.write_text(
        '[fhir]\norganization_id = "dinkes-balikpapan"\nnik_private_key_file = "nik.key"\n\n'
        '[web]\nwilayah_file = "wilayah.toml"\n',
        encoding="utf-8",
    )
    password_file = root / "password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    proc = None
    try:
        for user, options in STAFF.items():
            made = gempita(
                "central", "--db", db, "users", "add", user, *options,
                "--password-file", str(password_file),
            )  # fmt: skip
            assert made.returncode == 0, made.stderr
        port = free_port()
        proc = central_process(broker.url, db, root / "central.log")
        proc.args += ["--config", str(config), "--web-listen", f"127.0.0.1:{port}"]
        proc.start()
        proc.wait_for_log(f"central: web app on http://127.0.0.1:{port}", timeout=60)
        proc.wait_for_log("central subscribed to", timeout=30)
        assert publish_screenings(broker.url, keys.public_key) == len(ROLES_SCREENINGS)
        _wait_for_fleet(db)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                shots = root / "screenshots"
                shots.mkdir()
                yield World(f"http://127.0.0.1:{port}", db, shots, browser)
            finally:
                browser.close()
    finally:
        try:
            if proc is not None:
                assert proc.stop() == 0, proc.text()
        finally:
            broker.stop()
            postgres.drop_database(name)


# --- reading the pages -------------------------------------------------------------------------


def summary(page: Page) -> dict[str, str]:
    keys = ("screened", "positive", "urgent", "target", "coverage")
    return {k: page.locator(f"#n-{k}").inner_text().strip() for k in keys}


def children(page: Page) -> dict[str, list[str]]:
    """The child places' rows: code -> [screened, positive, urgent, coverage]."""
    found: dict[str, list[str]] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('tr[data-code]')].map(
            r => [r.dataset.code, [...r.querySelectorAll('td')].map(c => c.innerText.trim())]))"""
    )
    return found


def charts(page: Page) -> dict[str, dict[str, str]]:
    """Each chart's table: caption -> {category: residents}."""
    found: dict[str, dict[str, str]] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('table.chart-table')].map(
            t => [t.caption.innerText.trim(), Object.fromEntries([...t.tBodies[0].rows].map(
                r => [r.cells[0].innerText.trim(), r.cells[1].innerText.trim()]))]))"""
    )
    return found


SEX = "Warga diskrining per jenis kelamin"
BP = "Kategori tekanan darah"
GLUCOSE = "Kategori gula darah kapiler"


def by_sex(female: int = 0, male: int = 0, unknown: int = 0) -> dict[str, str]:
    return {"Perempuan": str(female), "Laki-laki": str(male), "tidak diketahui": str(unknown)}


def bp(**found: int) -> dict[str, str]:
    labels = {
        "optimal": "Optimal", "normal": "Normal", "high_normal": "Normal tinggi",
        "grade_1": "Hipertensi derajat 1", "grade_2": "Hipertensi derajat 2",
        "grade_3": "Hipertensi derajat 3",
    }  # fmt: skip
    assert set(found) <= set(labels)
    return {label: str(found.get(key, 0)) for key, label in labels.items()}


def glucose(**found: int) -> dict[str, str]:
    labels = {
        "low": "Rendah", "normal": "Normal", "borderline": "Perlu perhatian",
        "suspected": "Diduga diabetes",
    }  # fmt: skip
    assert set(found) <= set(labels)
    return {label: str(found.get(key, 0)) for key, label in labels.items()}


def counts(screened: int, positive: int, urgent: int, target: str, coverage: str) -> dict[str, str]:
    return {
        "screened": str(screened), "positive": str(positive), "urgent": str(urgent),
        "target": target, "coverage": coverage,
    }  # fmt: skip


def open_cascade(w: World, page: Page, name: str) -> None:
    """The cascade from the menu, set to the seeded month with the page's own filter."""
    page.goto(f"{w.url}/")
    page.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Cakupan").click()
    page.wait_for_url(f"{w.url}/cascade")
    page.get_by_label("Tanggal", exact=True).fill("2026-10-14")
    page.get_by_label("Periode", exact=True).select_option("month")
    page.get_by_role("button", name="Tampilkan").click()
    page.wait_for_url(f"**/cascade?{MONTH}")
    w.shoot(page, f"{name}-cascade-city")


def drill(w: World, page: Page, link: str, query: str, shot: str) -> None:
    page.locator("#children").get_by_role("link", name=link, exact=True).click()
    page.wait_for_url(f"**/cascade?{MONTH}&{query}")
    assert page.locator("h1 .place").inner_text() == link
    w.shoot(page, shot)


def refused(w: World, page: Page, path: str, status: int, shot: str) -> None:
    """A direct URL the role may not open: `status`, and the page names nothing behind it."""
    answer = page.goto(f"{w.url}{path}")
    assert answer is not None
    assert answer.status == status, path
    assert page.locator("h1").inner_text().endswith(f"({status})")
    w.shoot(page, shot)


def worklist_rows(page: Page) -> list[tuple[str, str, str, str]]:
    """(resident ref, severity, status, kelurahan) of each row, in the page's order."""
    rows = page.locator("table.wl tbody tr")
    out = []
    for i in range(rows.count()):
        cells = [c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
        out.append((cells[3], cells[1], cells[2], cells[4]))
    return out


def ref(who: str) -> str:
    return f"#{roles_pseudonym(who)[:8]} (kunjungan 1)"


def download_csv(w: World, page: Page, name: str) -> list[dict[str, str]]:
    """The worklist's CSV through the page's own download link (a real browser download)."""
    with page.expect_download() as caught:
        page.get_by_role("link", name="Unduh CSV (tanpa NIK)").click()
    download = caught.value
    assert download.suggested_filename == "rujukan.csv"
    saved = w.shots / f"{name}-rujukan.csv"
    download.save_as(saved)
    print(f"csv: {saved}")
    text = saved.read_text(encoding="utf-8")
    assert NIK_SARI not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, "a CSV without rows"
    assert "nik" not in rows[0]
    return rows


def post(page: Page, url: str, form: dict[str, str | float | bool]) -> int:
    """A POST from the signed-in browser context (its cookies), as a forged form would send."""
    return page.request.post(url, form=form, max_redirects=0).status


def audit_log(w: World) -> list[AuditEntry]:
    engine = sa.create_engine(w.db)
    try:
        return Auditor(engine, time.time).search(page_size=1000).entries
    finally:
        engine.dispose()


def csrf_of(page: Page) -> str:
    return page.locator("input[name=csrf_token]").first.get_attribute("value") or ""


# --- the roles -------------------------------------------------------------------------------


def test_dinkes_drills_the_whole_city_down_to_a_site(world: World) -> None:
    page = world.page("dina")
    open_cascade(world, page, "dina")
    # Nine residents: the unbound reading is nobody's, and the v1 gateway's resident counts.
    assert summary(page) == counts(9, 6, 2, "1300", "0.7%")
    assert children(page) == {"647101": ["6", "4", "1", "0.6%"], "647102": ["3", "2", "1", "1.0%"]}
    assert charts(page)[SEX] == by_sex(female=4, male=4, unknown=1)

    drill(world, page, "Balikpapan Selatan", "kecamatan=647101", "dina-cascade-kecamatan")
    assert summary(page) == counts(6, 4, 1, "1000", "0.6%")
    assert children(page) == {
        "6471011001": ["4", "3", "1", "0.5%"],
        "6471011002": ["2", "1", "0", "1.0%"],
    }
    shown = charts(page)
    assert shown[SEX] == by_sex(female=3, male=3)
    assert shown[BP] == bp(optimal=1, normal=1, grade_1=1, grade_2=1, grade_3=1)
    assert shown[GLUCOSE] == glucose(borderline=2, suspected=1)

    drill(world, page, "Damai", "kelurahan=6471011002", "dina-cascade-kelurahan")
    assert summary(page) == counts(2, 1, 0, "200", "1.0%")
    assert children(page) == {"kios-damai": ["2", "1", "0", NO_TARGET]}

    drill(world, page, "Kios Damai", "site=kios-damai", "dina-cascade-site")
    assert summary(page) == counts(2, 1, 0, NO_TARGET, NO_TARGET)
    shown = charts(page)
    assert shown[SEX] == by_sex(female=1, male=1)
    assert shown[BP] == bp(normal=1, grade_2=1)
    assert shown[GLUCOSE] == glucose(borderline=1)

    # The worklist: every kelurahan's referrals, and its CSV.
    page.get_by_role("navigation", name="Menu utama").get_by_role("link", name="Rujukan").click()
    page.wait_for_url(f"{world.url}/worklist")
    assert len(worklist_rows(page)) == 6
    world.shoot(page, "dina-worklist")
    rows = download_csv(world, page, "dina")
    assert sorted(r["kelurahan"] for r in rows) == [
        "6471011001", "6471011001", "6471011001", "6471011002", "6471021001", "6471021001",
    ]  # fmt: skip


def test_puskesmas_sees_its_wilayah_only_by_any_url(world: World) -> None:
    page = world.page("budi")
    open_cascade(world, page, "budi")
    assert summary(page) == counts(4, 3, 1, "800", "0.5%")
    assert children(page) == {"647101": ["4", "3", "1", "0.5%"]}

    drill(world, page, "Balikpapan Selatan", "kecamatan=647101", "budi-cascade-kecamatan")
    assert summary(page) == counts(4, 3, 1, "800", "0.5%")
    assert children(page) == {"6471011001": ["4", "3", "1", "0.5%"]}  # not Damai

    drill(world, page, "Sepinggan", "kelurahan=6471011001", "budi-cascade-kelurahan")
    assert summary(page) == counts(4, 3, 1, "800", "0.5%")
    assert children(page) == {
        "kios-sepinggan": ["3", "2", "1", NO_TARGET],
        "kit-sepinggan": ["1", "1", "0", NO_TARGET],
    }
    shown = charts(page)
    assert shown[SEX] == by_sex(female=2, male=2)
    assert shown[BP] == bp(optimal=1, grade_1=1, grade_3=1)
    assert shown[GLUCOSE] == glucose(borderline=1, suspected=1)

    drill(world, page, "Kios Sepinggan", "site=kios-sepinggan", "budi-cascade-site-kios")
    # The unbound 200/130 at this kiosk is nobody's: still one grade 3, one urgent.
    assert summary(page) == counts(3, 2, 1, NO_TARGET, NO_TARGET)
    shown = charts(page)
    assert shown[SEX] == by_sex(female=2, male=1)
    assert shown[BP] == bp(optimal=1, grade_1=1, grade_3=1)
    assert shown[GLUCOSE] == glucose(borderline=1)
    page.go_back()
    page.wait_for_url("**kelurahan=6471011001")
    drill(world, page, "Kit kader Sepinggan", "site=kit-sepinggan", "budi-cascade-site-kit")
    assert summary(page) == counts(1, 1, 0, NO_TARGET, NO_TARGET)
    assert charts(page)[GLUCOSE] == glucose(suspected=1)

    # Another wilayah's places, by URL: the same 404 as a place that does not exist.
    for n, query in enumerate(
        ("kecamatan=647102", "kelurahan=6471011002", "site=kios-damai", "site=kios-manggar")
    ):
        refused(world, page, f"/cascade?{MONTH}&{query}", 404, f"budi-cascade-refused-{n}")
        assert "Damai" not in page.content() and "Manggar" not in page.content()
    refused(world, page, "/audit", 403, "budi-audit-refused")

    # The worklist holds Sepinggan's three, overdue first by due date (all are past due).
    page.goto(f"{world.url}/worklist")  # files the stored positives
    assert worklist_rows(page) == [
        (ref("sari"), "Mendesak (hari ini)", "Baru", "Sepinggan (6471011001)"),
        (ref("agus"), "Segera (minggu ini)", "Baru", "Sepinggan (6471011001)"),
        (ref("joko"), "Rutin (bulan ini)", "Baru", "Sepinggan (6471011001)"),
    ]
    assert page.locator("tr.overdue").count() == 3
    world.shoot(page, "budi-worklist")
    # Damai's referral, by its id: 404 to read, 404 to change (with a good CSRF token).
    dewi = world.referral_id("dewi")
    refused(world, page, f"/worklist/{dewi}", 404, "budi-referral-refused")
    token = csrf_of(page)
    changed = post(page, f"{world.url}/worklist/{dewi}/status", {
        "csrf_token": token, "status": "contacted",
    })  # fmt: skip
    assert changed == 404
    assert post(page, f"{world.url}/worklist/{dewi}/nik", {"csrf_token": token}) == 404
    assert world.status_of("dewi") == "new"


def test_coordinator_reads_their_kelurahan_without_contact_details(world: World) -> None:
    page = world.page("citra")
    open_cascade(world, page, "citra")
    assert summary(page) == counts(3, 2, 1, "300", "1.0%")
    assert children(page) == {"647102": ["3", "2", "1", "1.0%"]}
    drill(world, page, "Balikpapan Timur", "kecamatan=647102", "citra-cascade-kecamatan")
    assert children(page) == {"6471021001": ["3", "2", "1", "1.0%"]}
    drill(world, page, "Manggar", "kelurahan=6471021001", "citra-cascade-kelurahan")
    assert children(page) == {"kios-manggar": ["3", "2", "1", NO_TARGET]}
    drill(world, page, "Kios Manggar", "site=kios-manggar", "citra-cascade-site")
    assert summary(page) == counts(3, 2, 1, NO_TARGET, NO_TARGET)
    shown = charts(page)
    assert shown[SEX] == by_sex(female=1, male=1, unknown=1)  # the v1 gateway's resident
    assert shown[BP] == bp(high_normal=1, grade_1=1)
    assert shown[GLUCOSE] == glucose(low=1)
    refused(world, page, f"/cascade?{MONTH}&kecamatan=647101", 404, "citra-cascade-refused")

    page.goto(f"{world.url}/worklist")
    assert worklist_rows(page) == [
        (ref("tini"), "Mendesak (hari ini)", "Baru", "Manggar (6471021001)"),
        (ref("wati"), "Rutin (bulan ini)", "Baru", "Manggar (6471021001)"),
    ]
    # No contact details for a coordinator: no NIK export, no reveal button.
    assert page.get_by_role("button", name="Unduh CSV dengan NIK (dicatat)").count() == 0
    world.shoot(page, "citra-worklist")
    rows = download_csv(world, page, "citra")
    assert [(r["pseudonym"], r["severity"], r["status"]) for r in rows] == [
        (roles_pseudonym("tini"), "urgent", "new"),
        (roles_pseudonym("wati"), "routine", "new"),
    ]
    page.get_by_role("link", name=ref("tini")).click()
    page.wait_for_url(f"{world.url}/worklist/{world.referral_id('tini')}")
    assert page.get_by_role("button", name="Tampilkan NIK").count() == 0
    world.shoot(page, "citra-referral")
    tini = world.referral_id("tini")
    token = csrf_of(page)
    # The role may not, whatever the form says: 403 (and recorded as refused).
    assert post(page, f"{world.url}/worklist/{tini}/nik", {"csrf_token": token}) == 403
    assert post(page, f"{world.url}/worklist.csv", {
        "csrf_token": token, "include_nik": "yes",
    }) == 403  # fmt: skip
    refused(world, page, f"/worklist/{world.referral_id('sari')}", 404, "citra-referral-refused")
    refused(world, page, "/audit", 403, "citra-audit-refused")
    mine = [(e.action, e.what, e.outcome) for e in audit_log(world) if e.username == "citra"]
    for what in (f"POST /worklist/{tini}/nik", "POST /worklist.csv", "GET /audit"):
        assert ("forbidden", what, "refused") in mine


def test_puskesmas_works_a_referral_to_confirmed_and_dinkes_audits_it(world: World) -> None:
    page = world.page("budi")
    page.goto(f"{world.url}/worklist")
    sari = world.referral_id("sari")
    page.get_by_role("link", name=ref("sari")).click()
    page.wait_for_url(f"{world.url}/worklist/{sari}")
    assert page.locator("#wl-status").inner_text() == "Baru"
    world.shoot(page, "budi-referral-new")

    # The NIK, revealed on request (and recorded before it is shown).
    page.get_by_role("button", name="Tampilkan NIK").click()
    page.wait_for_load_state()
    assert page.locator("#wl-nik").inner_text() == NIK_SARI
    world.shoot(page, "budi-referral-nik", mask=[page.locator("#wl-nik")])

    # A forged token, then none: refused, and the referral has not moved.
    page.goto(f"{world.url}/worklist/{sari}")
    status_form = f"form[action='/worklist/{sari}/status']"
    for n, forge in enumerate(("e => { e.value = 'forged'; }", "e => e.remove()")):
        page.eval_on_selector(f"{status_form} input[name=csrf_token]", forge)
        page.get_by_label("Status baru").select_option("contacted")
        with page.expect_response(f"{world.url}/worklist/{sari}/status") as answer:
            page.get_by_role("button", name="Simpan status").click()
        assert answer.value.status == 403
        assert "Formulir ini kedaluwarsa" in page.get_by_role("alert").inner_text()
        world.shoot(page, f"budi-csrf-refused-{n}")
        page.goto(f"{world.url}/worklist/{sari}")
    assert page.locator("#wl-status").inner_text() == "Baru"
    assert NIK_SARI not in page.content()  # a reveal lasts one page

    # new -> contacted -> came -> confirmed, with notes.
    steps = (
        ("contacted", "Sudah dihubungi", "Ditelepon, datang Senin"),
        ("came", "Datang ke Puskesmas", ""),
        ("confirmed", "Terkonfirmasi", "Hipertensi dikonfirmasi dokter"),
    )
    for status, label, note in steps:
        page.get_by_label("Status baru").select_option(status)
        page.locator("#wl-status-note").fill(note)
        page.get_by_role("button", name="Simpan status").click()
        page.wait_for_url(f"{world.url}/worklist/{sari}")
        assert page.locator("#wl-status").inner_text() == label
        world.shoot(page, f"budi-referral-{status}")
    assert page.get_by_text("Rujukan ini sudah selesai.").count() == 1
    notes = page.locator(".wl-notes").inner_text()
    assert "Ditelepon, datang Senin" in notes and "Hipertensi dikonfirmasi dokter" in notes
    assert world.status_of("sari") == "confirmed"

    # The loop closed end to end: the cascade now counts sari referred, came and confirmed
    # (her wilayah's other referrals are still new: not referred).
    open_cascade(world, page, "budi-confirmed")
    followed = [page.locator(f"#n-{k}").inner_text() for k in ("referred", "came", "confirmed")]
    assert followed == ["1", "1", "1"]

    # The CSV without NIK through the download link; the one with NIK only by its POST.
    page.goto(f"{world.url}/worklist")
    rows = download_csv(world, page, "budi")
    # Closed, sari's is no longer overdue: the open (overdue) ones come first now.
    assert [(r["pseudonym"], r["status"], r["overdue"]) for r in rows] == [
        (roles_pseudonym("agus"), "new", "yes"),
        (roles_pseudonym("joko"), "new", "yes"),
        (roles_pseudonym("sari"), "confirmed", "no"),
    ]
    assert rows[2]["updated_by"] == "budi"
    assert rows[2]["notes"] == "Ditelepon, datang Senin / Hipertensi dikonfirmasi dokter"
    assert {r["kelurahan"] for r in rows} == {"6471011001"}
    exported = page.request.post(
        f"{world.url}/worklist.csv", form={"csrf_token": csrf_of(page), "include_nik": "yes"}
    )
    assert exported.status == 200
    personal = list(csv.DictReader(io.StringIO(exported.text())))
    assert [r["nik"] for r in personal] == ["", "", NIK_SARI]  # only sari's kiosk sealed one

    # Dinkes reads who did what, when, in the audit log, through its filter form.
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    dina = world.page("dina")
    dina.goto(f"{world.url}/audit")
    expected = {
        "reveal_nik": [f"referral {sari}"],
        "export_worklist": ["worklist.csv status=* severity=* rows=3 nik=no"],
        "export_personal": ["worklist.csv status=* severity=* rows=3 nik=yes"],
        "csrf_refused": [f"POST /worklist/{sari}/status"] * 2,
    }
    for action, whats in expected.items():
        dina.get_by_label("Pengguna").fill("budi")
        dina.get_by_label("Tindakan").select_option(action)
        dina.get_by_role("button", name="Saring").click()
        dina.wait_for_url(f"**/audit?user=budi&action={action}")
        cells = [
            [c.strip() for c in dina.locator("tbody tr").nth(i).locator("td").all_inner_texts()]
            for i in range(dina.locator("tbody tr").count())
        ]
        assert [c[4] for c in cells] == whats, action
        for when, user, role, *_rest in cells:
            assert when.startswith(today) and (user, role) == ("budi", "puskesmas")
        assert NIK_SARI not in dina.content()
        world.shoot(dina, f"dina-audit-{action}")

    assert not [e for e in audit_log(world) if NIK_SARI in e.what]
