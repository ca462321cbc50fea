"""A real `gempita central` serving its staff pages, for the page modules' browser tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.support.mosquitto import free_port
from tests.support.processes import central_process

from .helpers import PASSWORD
from .test_browser import gempita


@contextmanager
def central_web(
    db: str,
    broker_url: str,
    directory: Path,
    staff: Sequence[tuple[str, Sequence[str]]],
    wilayah_toml: str,
) -> Iterator[str]:
    """The base URL of central on `db`, its accounts made with `gempita central users add`
    (password PASSWORD) and its places from `wilayah_toml`; stopped cleanly (exit 0) after."""
    password_file = directory / "password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    for name, options in staff:
        made = gempita(
            "central", "--db", db, "users", "add", name, *options,
            "--password-file", str(password_file),
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    (directory / "wilayah.toml").write_text(wilayah_toml, encoding="utf-8")
    config = directory / "central.toml"
    config.write_text('[web]\nwilayah_file = "wilayah.toml"\n', encoding="utf-8")
    port = free_port()
    proc = central_process(broker_url, db, directory / "central.log")
    proc.args += ["--config", str(config), "--web-listen", f"127.0.0.1:{port}"]
    proc.start()
    try:
        proc.wait_for_log(f"central: web app on http://127.0.0.1:{port}", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        assert proc.stop() == 0, proc.text()
