"""`gempita demo` runs the whole chain and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.demo import REPO, running_demo


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
    # Leaving: Ctrl-C, exit 0, no traceback (tests/support/demo.py).

