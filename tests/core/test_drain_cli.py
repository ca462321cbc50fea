"""`gempita outbox drain` empties the outbox through real mosquitto, or says why not."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gateway.outbox import Outbox
from tests.core.test_delivery import prefill
from tests.support.harness import gateway_config, running_central
from tests.support.mosquitto import Mosquitto, free_port

REPO = Path(__file__).resolve().parents[2]


def write_config(path: Path, state: Path, url: str) -> None:
    path.write_text(
        f'[gateway]\nid = "gw-001"\nstate_dir = "{state}"\n'
        f'[mqtt]\nurl = "{url}"\nbackoff_initial_s = 0.05\nbackoff_max_s = 0.2\n'
    )


async def drain(config_file: Path, *extra: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "outbox",
        "drain",
        "--config",
        str(config_file),
        *extra,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_drain_until_confirmed(
    tmp_path: Path, mosquitto: Mosquitto, central_db_url: str
) -> None:
    state = tmp_path / "gw"
    config = gateway_config(state, mosquitto.url)
    ids = await prefill(config, 3000)
    config_file = tmp_path / "gw.toml"
    write_config(config_file, state, mosquitto.url)
    async with running_central(mosquitto.url, central_db_url) as central:
        code, out, err = await drain(config_file, "--until", "confirmed")
        assert code == 0, err
        assert "drained: 3000 readings confirmed" in out
        assert central.store.ids() == ids
    async with Outbox(config.outbox_path) as outbox:
        counts = await outbox.counts()
    assert (counts.pending, counts.published, counts.confirmed) == (0, 0, 3000)


async def test_drain_without_broker_times_out_with_reason(tmp_path: Path) -> None:
    state = tmp_path / "gw"
    url = f"mqtt://127.0.0.1:{free_port()}"
    config = gateway_config(state, url)
    await prefill(config, 5)
    config_file = tmp_path / "gw.toml"
    write_config(config_file, state, url)
    code, _out, err = await drain(config_file, "--timeout", "2")
    assert code == 1
    assert "drain timed out with 5 readings left" in err
    assert "Connection refused" in err
