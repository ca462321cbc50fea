"""The app through HTTP (Starlette's test client): sign-in, roles, CSRF, audit, language."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from httpx import Client

from central.web.accounts import AccountStore
from central.web.app import LOGIN_CSRF_COOKIE, create_app
from central.web.audit import Action, Auditor
from central.web.i18n import TEXTS
from central.web.sessions import COOKIE
from central.web.settings import WebSettings

from .helpers import PASSWORD, EpochClock, add_staff, serve

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client(engine: sa.Engine, clock: EpochClock, accounts: AccountStore) -> Iterator[Client]:
    add_staff(accounts)
    app = create_app(engine, WebSettings(session_idle_s=600, login_max_failures=3), clock)
    with serve(app) as served, Client(base_url=served.url) as client:
        yield client


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, html
    return found.group(1)


def sign_in(client: Client, username: str, password: str = PASSWORD) -> str:
    """Signs in; returns the session's CSRF token (from the home page's logout form)."""
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert answer.status_code == 303, answer.text
    home = client.get("/")
    assert home.status_code == 200
    return csrf_of(home.text)


def actions(engine: sa.Engine, clock: EpochClock) -> list[tuple[str, str, str]]:
    found = Auditor(engine, clock).search(page_size=1000)
    return [(e.username, e.action, e.outcome) for e in reversed(found.entries)]


def test_pages_need_a_session(client: Client) -> None:
    for path in ("/", "/audit", "/fleet"):
        answer = client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/login?next={path}"


def test_sign_in_sets_a_strict_httponly_cookie_and_returns_to_next(client: Client) -> None:
    token = csrf_of(client.get("/login?next=/fleet").text)
    answer = client.post(
        "/login",
        data={"username": "dina", "password": PASSWORD, "csrf_token": token, "next": "/fleet"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/fleet"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # secure_cookies off in this app
    landed = client.get("/fleet")
    assert landed.status_code == 200
    assert "<h1>Armada gateway</h1>" in landed.text


def test_secure_cookies_mark_the_session_cookie_secure(
    engine: sa.Engine, clock: EpochClock, accounts: AccountStore
) -> None:
    add_staff(accounts)
    app = create_app(engine, WebSettings(secure_cookies=True), clock)
    with serve(app) as served, Client(base_url=served.url) as client:
        token = csrf_of(client.get("/login").text)
        # A Secure cookie is not sent back over this test's plain http: hand it over as the
        # browser behind https would.
        answer = client.post(
            "/login",
            data={"username": "dina", "password": PASSWORD, "csrf_token": token},
            headers={"cookie": f"{LOGIN_CSRF_COOKIE}={token}"},
        )
    assert answer.status_code == 303
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(COOKIE))
    assert "Secure" in cookie


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil"])
def test_next_never_leaves_the_site(client: Client, target: str) -> None:
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login",
        data={"username": "dina", "password": PASSWORD, "csrf_token": token, "next": target},
    )
    assert answer.headers["location"] == "/"


def test_a_wrong_password_and_an_unknown_name_read_the_same(
    client: Client, engine: sa.Engine, clock: EpochClock
) -> None:
    token = csrf_of(client.get("/login").text)
    pages = []
    for name in ("dina", "tidak-ada"):
        answer = client.post(
            "/login", data={"username": name, "password": "salah-salah-1", "csrf_token": token}
        )
        assert answer.status_code == 401
        pages.append(answer.text.replace(f'value="{name}"', ""))
    assert pages[0] == pages[1]
    assert "Nama pengguna atau kata sandi salah." in pages[0]
    assert actions(engine, clock) == [
        ("dina", "login_failed", "refused"),
        ("tidak-ada", "login_failed", "refused"),
    ]


def test_the_limit_is_said_in_the_page_and_audited(
    client: Client, engine: sa.Engine, clock: EpochClock
) -> None:
    token = csrf_of(client.get("/login").text)
    for _ in range(3):
        answer = client.post(
            "/login", data={"username": "budi", "password": "salah-salah-1", "csrf_token": token}
        )
    assert answer.status_code == 429
    assert "Coba lagi dalam 15 menit" in answer.text
    answer = client.post(
        "/login", data={"username": "budi", "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 429
    assert actions(engine, clock)[-1] == ("budi", "login_limited", "refused")


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_a_post_without_the_sessions_csrf_token_is_refused_and_audited(
    client: Client, engine: sa.Engine, clock: EpochClock, token: str | None
) -> None:
    good = sign_in(client, "dina")
    data = {} if token is None else {"csrf_token": token}
    answer = client.post("/logout", data=data)
    assert answer.status_code == 403
    assert "Formulir ini kedaluwarsa" in answer.text
    assert client.get("/").status_code == 200  # still signed in: the logout did not happen
    assert actions(engine, clock)[-1] == ("dina", "csrf_refused", "refused")
    assert client.post("/logout", data={"csrf_token": good}).status_code == 303
    assert client.get("/").status_code == 303
    assert actions(engine, clock)[-1] == ("dina", "logout", "ok")


def test_the_login_form_needs_its_own_token(client: Client) -> None:
    client.get("/login")
    answer = client.post(
        "/login", data={"username": "dina", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert answer.status_code == 403
    assert client.get("/").status_code == 303


@pytest.mark.parametrize("username", ["budi", "citra"])
def test_only_dinkes_opens_the_audit_page(
    client: Client, engine: sa.Engine, clock: EpochClock, username: str
) -> None:
    sign_in(client, username)
    home = client.get("/").text
    assert 'href="/audit"' not in home
    answer = client.get("/audit?user=dina")
    assert answer.status_code == 403
    assert "Percobaan ini dicatat" in answer.text
    assert actions(engine, clock)[-1] == (username, "forbidden", "refused")


def test_the_audit_page_filters_and_pages(
    engine: sa.Engine, clock: EpochClock, accounts: AccountStore
) -> None:
    add_staff(accounts)
    auditor = Auditor(engine, clock)
    for n in range(7):
        auditor.audit("budi", Action.LOGIN, f"#{n}", "a")
    app = create_app(engine, WebSettings(page_size=3), clock)
    with serve(app) as served, Client(base_url=served.url) as client:
        sign_in(client, "dina")
        first = client.get("/audit?user=budi&action=login").text
        assert "7 catatan" in first
        assert "Halaman 1 dari 3" in first
        assert first.count("<td>budi</td>") == 3
        assert "#6" in first
        assert "#0" not in first
        last = client.get("/audit?user=budi&action=login&page=3").text
        assert "#0" in last
        assert "Halaman 3 dari 3" in last
        # Dina's sign-in and her three readings of the log, the one being answered included.
        own = client.get("/audit?user=dina").text
        assert "4 catatan" in own
        assert "<td>view_audit</td>" in own


def test_each_role_sees_the_navigation_and_its_scope(client: Client) -> None:
    sign_in(client, "budi")
    home = client.get("/").text
    for label in ("Armada", "Cakupan", "Rujukan", "Kualitas data"):
        assert label in home
    assert "2 kelurahan (6471011001, 6471011002)" in home
    english = client.get("/?lang=en")
    assert "Fleet" in english.text
    assert "Data quality" in english.text and "Kualitas data" not in english.text
    assert "Fleet" in client.get("/").text  # the cookie remembers the choice


def test_every_response_carries_the_safety_headers(client: Client) -> None:
    answer = client.get("/login")
    assert answer.headers["cache-control"].startswith("no-store")
    assert "script-src" not in answer.headers["content-security-policy"]
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert client.get("/nope").status_code == 404
    assert "Halaman tidak ditemukan" in client.get("/nope").text


def test_every_text_exists_in_every_language() -> None:
    for key, by_lang in TEXTS.items():
        assert set(by_lang) == {"id", "en"}, key
        assert all(by_lang.values()), key
