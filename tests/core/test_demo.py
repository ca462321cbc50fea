"""`gempita demo` runs the whole chain and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.demo import REPO, running_demo


def _central_pages_are_up(port: int, db: Path) -> None:
    """Central's staff pages: the printed account signs in, and the fleet knows gw-demo."""
    import re
    import sqlite3

    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        form = client.get("/login")
        assert form.status_code == 200
        found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert found is not None
        answer = client.post(
            "/login",
            data={"username": "dinkes01", "password": "demo-central-1", "csrf_token": found[1]},
        )
        assert answer.status_code == 303, answer.text
        home = client.get("/")
        assert home.status_code == 200 and "dinkes01" in home.text
        # The seeded history gives the programme's pages something to show.
        cascade = client.get("/cascade", params={"period": "year"})
        assert cascade.status_code == 200
        worklist = client.get("/worklist")
        assert worklist.status_code == 200 and 'href="/worklist/' in worklist.text
        fleet = client.get("/fleet")
        assert "gw-kit-klandasan" in fleet.text
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT gateway_id, state FROM fleet_gateways").fetchall()
        (history,) = conn.execute(
            "SELECT count(*) FROM readings WHERE gateway_id LIKE 'gw-kios-%' OR "
            "gateway_id LIKE 'gw-kit-%'"
        ).fetchone()
    assert ("gw-demo", "online") in rows
    assert ("gw-kit-klandasan", "offline") in rows  # away for days, its Last Will kept
    assert history > 1000


def test_demo_shows_readings_stored_by_central_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    with running_demo(tmp_path, "--every", "1") as demo:
        stored = demo.stored_within(60, lambda s: len(s) >= 8)
        assert len(stored) >= 8, demo.seen
        assert any("BP " in x for x in stored)
        assert any("glucose " in x for x in stored)
        with urllib.request.urlopen(f"http://127.0.0.1:{demo.kiosk_port}/", timeout=10) as page:
            assert page.status == 200
            assert "Gempita" in page.read().decode()
        # The status file is refreshed every 2 s: ask until it reflects the connection.
        command = [sys.executable, "-m", "gateway.cli", "status", "--json", "--config"]
        config = str(demo.state / "gateway.toml")
        for _ in range(20):
            done = subprocess.run(
                [*command, config], cwd=REPO, capture_output=True, text=True, check=True
            )
            status = json.loads(done.stdout)
            if status["broker"]["connected"] and status["outbox"]["confirmed"]:
                break
            time.sleep(0.5)
        assert status["running"]
        assert status["broker"]["connected"]
        assert status["outbox"]["confirmed"] >= 8
        _central_pages_are_up(demo.central_port, demo.state / "central.db")
    # Leaving: Ctrl-C, exit 0, no traceback (tests/support/demo.py).
