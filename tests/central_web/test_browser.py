"""Real Chromium (Debian) through Playwright against the real `gempita central` process on
PostgreSQL: accounts made with `gempita central users add`, the app served by --web-listen.

Screenshots go under the test's tmp dir (their paths are printed), never into the repo.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, ViewportSize

from central.web.app import MENU
from central.web.audit import Auditor
from central.web.auth import Role
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.processes import ROOT, GempitaProcess, central_process

from .helpers import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.slow]

CHROMIUM = "/usr/lib/chromium/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 360, "height": 740}
STAFF = [
    ("dina", ["--role", "dinkes"]),
    ("budi", ["--role", "puskesmas", "--puskesmas", "pkm-a", "--wilayah", "6471011001,6471011002"]),
    ("citra", ["--role", "coordinator", "--wilayah", "6471021001"]),
    ("eko", ["--role", "coordinator", "--wilayah", "6471021002"]),
]
ROLES = {name: Role(options[options.index("--role") + 1]) for name, options in STAFF}


def gempita(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def central(postgres_db: str, mosquitto: Mosquitto, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(web app URL, database URL) of a running central with one account per role."""
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    for name, options in STAFF:
        made = gempita(
            "central", "--db", postgres_db, "users", "add", name, *options,
            "--password-file", str(password_file),
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    port = free_port()
    proc = central_process(mosquitto.url, postgres_db, tmp_path / "central.log")
    proc.args += ["--web-listen", f"127.0.0.1:{port}"]
    proc.start()
    try:
        proc.wait_for_log(f"central: web app on http://127.0.0.1:{port}", timeout=60)
        yield f"http://127.0.0.1:{port}", postgres_db
    finally:
        assert proc.stop() == 0, proc.text()


class Shots:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, name: str) -> None:
        path = self.root / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")


def sign_in(page: Page, url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()


def test_staff_sign_in_roles_limits_csrf_and_audit(
    browser: Browser, central: tuple[str, str], tmp_path: Path
) -> None:
    url, db = central
    shots = Shots(tmp_path / "screenshots")

    # Each role signs in and lands on the home page with its own menu and scope.
    expected = {
        "dina": ("Wilayah: seluruh kota.", True),
        "budi": ("Wilayah: 2 kelurahan (6471011001, 6471011002).", False),
        "citra": ("Wilayah: 1 kelurahan (6471021001).", False),
    }
    for name, (scope, audits) in expected.items():
        for view, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
            context = browser.new_context(viewport=view)
            page = context.new_page()
            sign_in(page, url, name)
            page.wait_for_url(f"{url}/")
            assert page.locator("h1").inner_text() == "Beranda"
            assert scope in page.locator(".scope").inner_text()
            menu = page.locator("nav.menu").inner_text()
            for item in ("Armada", "Cakupan", "Rujukan", "Kualitas data"):
                assert item in menu
            assert ("Audit" in menu) is audits
            # "belum tersedia" once in the menu and once on the tile of each page this role
            # has that is not built yet (derived, so it holds as pages land).
            not_ready = [p for p in MENU if not p.ready and ROLES[name] in p.roles]
            assert page.locator("nav.menu").get_by_text("belum tersedia").count() == len(not_ready)
            assert page.locator(".tiles").get_by_text("belum tersedia").count() == len(not_ready)
            if label == "phone":
                # Nothing wider than the phone: the page reads without sideways scrolling.
                assert page.evaluate("document.documentElement.scrollWidth") <= view["width"]
            shots.take(page, f"home-{name}-{label}")
            context.close()

    # Wrong passwords: the fifth one locks the account, and the page says how long.
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    for _ in range(5):
        sign_in(page, url, "eko", "salah-salah-1")
    alert = page.get_by_role("alert").inner_text()
    assert "Coba lagi dalam 15 menit" in alert
    sign_in(page, url, "eko")  # the right password, still refused during the lock
    assert "Coba lagi dalam" in page.get_by_role("alert").inner_text()
    shots.take(page, "login-limited")
    context.close()

    # A puskesmas user opening the audit log by its URL is refused, and that is recorded.
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, url, "budi")
    page.wait_for_url(f"{url}/")
    answer = page.goto(f"{url}/audit")
    assert answer is not None
    assert answer.status == 403
    assert "Percobaan ini dicatat" in page.get_by_role("alert").inner_text()
    shots.take(page, "audit-refused-puskesmas")

    # A state-changing POST with a wrong CSRF token, then with none, is refused.
    page.goto(f"{url}/")
    field = "form[action='/logout'] input[name=csrf_token]"
    page.eval_on_selector(field, "e => { e.value = 'forged'; }")
    with page.expect_response(f"{url}/logout") as refused:
        page.get_by_role("button", name="Keluar").click()
    assert refused.value.status == 403
    assert "Formulir ini kedaluwarsa" in page.get_by_role("alert").inner_text()
    shots.take(page, "csrf-refused")
    page.goto(f"{url}/")
    page.eval_on_selector(field, "e => e.remove()")
    with page.expect_response(f"{url}/logout") as refused:
        page.get_by_role("button", name="Keluar").click()
    assert refused.value.status == 403
    page.goto(f"{url}/")
    assert page.locator("h1").inner_text() == "Beranda"  # still signed in
    page.get_by_role("button", name="Keluar").click()  # the real form works
    page.wait_for_url(f"{url}/login")
    context.close()

    # Dinkes reads the audit log, filtered, in English.
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, url, "dina")
    page.wait_for_url(f"{url}/")
    page.goto(f"{url}/audit?lang=en")
    page.get_by_label("User").fill("budi")
    page.get_by_label("Action").select_option("forbidden")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    assert "GET /audit" in rows.first.inner_text()
    shots.take(page, "audit-dinkes-filtered")
    page.set_viewport_size(PHONE)
    page.goto(f"{url}/audit")
    shots.take(page, "audit-dinkes-phone")
    context.close()

    engine = sa.create_engine(db)
    try:
        entries = Auditor(engine, time.time).search(page_size=500).entries
    finally:
        engine.dispose()
    seen = {(e.username, e.action) for e in entries}
    for name in expected:
        assert (name, "login") in seen
    assert ("eko", "login_failed") in seen
    assert ("eko", "login_limited") in seen
    assert ("budi", "forbidden") in seen
    assert ("budi", "logout") in seen
    assert [e.outcome for e in entries if e.action == "csrf_refused"] == ["refused", "refused"]
    assert {e.address for e in entries} == {"127.0.0.1"}
    # No password ever reaches the log.
    assert not [e for e in entries if PASSWORD in e.what or "salah-salah" in e.what]


def test_a_taken_port_is_a_clear_error(postgres_db: str, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = GempitaProcess(
            ["central", "--db", postgres_db, "--web-listen", f"127.0.0.1:{port}"],
            tmp_path / "central.log",
        ).start()
        assert proc.proc is not None
        assert proc.proc.wait(60) == 1
    assert f"web.listen 127.0.0.1:{port}: cannot listen" in proc.text()
