"""`gempita central users`: the accounts command, run as an operator runs it."""

from __future__ import annotations

import json
from pathlib import Path

from .test_browser import gempita


def test_add_list_passwd_disable(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'central.db'}"
    password = tmp_path / "password"
    password.write_text("kata-sandi-benar-1\n", encoding="utf-8")
    made = gempita(
        "central", "--db", db, "users", "add", "Budi", "--role", "puskesmas",
        "--puskesmas", "pkm-a", "--wilayah", "64.71.01.1001,6471011002",
        "--password-file", str(password),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "added budi (puskesmas)"

    again = gempita(
        "central", "--db", db, "users", "add", "budi", "--role", "dinkes",
        "--password-file", str(password),
    )  # fmt: skip
    assert again.returncode == 2
    assert "user 'budi' exists already" in again.stderr

    no_terminal = gempita("central", "--db", db, "users", "passwd", "budi")
    assert no_terminal.returncode == 2
    assert "give --password-file FILE" in no_terminal.stderr

    short = tmp_path / "short"
    short.write_text("pendek\n", encoding="utf-8")
    weak = gempita("central", "--db", db, "users", "passwd", "budi", "--password-file", str(short))
    assert weak.returncode == 2
    assert "at least 10 characters" in weak.stderr

    assert gempita("central", "--db", db, "users", "disable", "budi").returncode == 0
    listed = gempita("central", "--db", db, "users", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [
        {
            "username": "budi",
            "role": "puskesmas",
            "puskesmas": "pkm-a",
            "wilayah": ["6471011001", "6471011002"],
            "disabled": True,
        }
    ]
    missing = gempita("central", "--db", db, "users", "disable", "nobody")
    assert missing.returncode == 2
    assert "no user 'nobody'" in missing.stderr
