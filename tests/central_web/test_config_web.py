"""[web] in central's configuration: off unless listen is set; every mistake names its key."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from central.config import parse_central_config
from central.errors import CentralConfigError
from central.referral_rules import Severity
from central.referrals import ReferralBook
from central.web.settings import WebSettings
from central.wilayah import Wilayah


def test_no_web_table_means_no_web_app() -> None:
    assert parse_central_config({}).web is None
    assert parse_central_config({"web": {"listen": ""}}).web is None


def test_a_full_web_table() -> None:
    config = parse_central_config(
        {
            "web": {
                "listen": "0.0.0.0:8480",
                "secure_cookies": True,
                "session_idle_s": 600,
                "login_max_failures": 3,
                "login_window_s": 300,
                "login_lockout_s": 1200.5,
            }
        }
    )
    assert config.web == WebSettings(
        host="0.0.0.0",
        port=8480,
        secure_cookies=True,
        session_idle_s=600.0,
        login_max_failures=3,
        login_window_s=300.0,
        login_lockout_s=1200.5,
    )


def test_referral_due_days_are_set_by_severity() -> None:
    config = parse_central_config(
        {"web": {"listen": "127.0.0.1:8480", "referral_due_days_soon": 3}}
    )
    assert config.web is not None
    days = config.web.referral_rules.due_days
    assert (days[Severity.URGENT], days[Severity.SOON], days[Severity.ROUTINE]) == (0, 3, 30)
    # And the worklist dates by them.
    book = ReferralBook(
        sa.create_engine("sqlite://"), lambda: 0.0, Wilayah(), config.web.referral_rules
    )
    assert book.due("2026-12-02T01:00:00Z", Severity.SOON) == date(2026, 12, 5)


def test_defaults_with_listen_only() -> None:
    config = parse_central_config({"web": {"listen": "[::1]:8480"}})
    assert config.web == WebSettings(host="::1", port=8480)


@pytest.mark.parametrize(
    ("web", "says"),
    [
        ({"listen": "8480"}, "web.listen: '8480' is not host:port like 127.0.0.1:8480"),
        ({"listen": "h:99999"}, "web.listen:"),
        ({"secure_cookie": True}, "web.secure_cookie: unknown key"),
        ({"secure_cookies": "yes"}, "web.secure_cookies: expected true or false"),
        ({"session_idle_s": 0}, "web.session_idle_s: must be more than 0 seconds"),
        ({"login_max_failures": 0}, "web.login_max_failures: must be between 1 and 100"),
        ({"login_window_s": "15m"}, "web.login_window_s: expected a number"),
        # Checked with listen off too: a typo shows before the app is switched on.
        ({"listen": "", "login_lockout_s": -1}, "web.login_lockout_s: must be more than 0"),
        ({"referral_due_days_soon": -1}, "web.referral_due_days_soon: must be between 0 and 365"),
        ({"referral_due_days_urgent": "today"}, "web.referral_due_days_urgent: expected a whole"),
    ],
)
def test_mistakes_name_the_key(web: dict[str, Any], says: str) -> None:
    with pytest.raises(CentralConfigError) as caught:
        parse_central_config({"web": web})
    assert says in str(caught.value)


def test_the_example_file_names_every_web_key() -> None:
    from pathlib import Path

    from central.config import read_central_toml

    example = Path(__file__).resolve().parents[2] / "central.example.toml"
    raw = read_central_toml(example)
    assert set(raw["web"]) == {
        "listen",
        "secure_cookies",
        "session_idle_s",
        "login_max_failures",
        "login_window_s",
        "login_lockout_s",
        "wilayah_file",
        "referral_due_days_urgent",
        "referral_due_days_soon",
        "referral_due_days_routine",
    }
    # Off as shipped (listen empty), and the rest of its values are accepted.
    assert parse_central_config({"web": raw["web"]}).web is None
