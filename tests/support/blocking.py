"""A pytest plugin that fails an async test when our code blocks the event loop.

It uses `blockbuster` (as Home Assistant's BLE stack does): while an async test runs, the
usual blocking calls (file and socket I/O, `time.sleep`, sqlite3, locks, `os.stat`...) raise
`BlockingError` when they are made on the event-loop thread from our packages. A blocking
call made by the test's own code (setup, assertions) is not scanned.

ALLOWED lists the deliberate exceptions, each with its reason; a new one needs a reason too.
Mark a test `@pytest.mark.allow_blocking` only when the test itself is about blocking.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from blockbuster import blockbuster_ctx

from tests.support.logcheck import OUR_PACKAGES

_FILE_IO = ("io.TextIOWrapper.read", "io.BufferedReader.read", "os.stat", "os.getcwd", "os.scandir",
            "os.path.abspath", "os.mkdir")
_SQLITE = tuple(
    f"sqlite3.{name}" for name in (
        "Cursor.execute", "Cursor.executemany", "Cursor.executescript", "Cursor.fetchone",
        "Cursor.fetchmany", "Cursor.fetchall", "Connection.execute", "Connection.executemany",
        "Connection.executescript", "Connection.commit", "Connection.rollback",
    )
)


@dataclass(frozen=True, slots=True)
class Allowed:
    """Blocking calls `functions` (blockbuster's names) may make inside `callers`
    (a frame in a file ending with `file` and named one of `callers`), and why."""

    functions: tuple[str, ...]
    file: str
    callers: frozenset[str]
    reason: str


ALLOWED: tuple[Allowed, ...] = (
    Allowed(_FILE_IO, "gateway/config.py", frozenset({"load_config", "parse_config"}),
            "the configuration is read once at start-up, before the gateway runs anything; "
            "tests build configs inside their event loop"),
    Allowed(_FILE_IO + _SQLITE, "kiosk/app.py", frozenset({"create_app"}),
            "the kiosk app (thresholds file, roster database) is built once at start-up, "
            "before it serves a request"),
    Allowed(_FILE_IO, "gateway/kiosk_host.py", frozenset({"kiosk_host", "with_paired_devices"}),
            "the kiosk's settings and key files are checked once at start-up, so a bad one "
            "stops `gempita run` before anything starts"),
    Allowed(_FILE_IO, "simulators/ble/scenario.py", frozenset({"parse_scenario"}),
            "a simulator's scenario file is read when its runner is built at start-up"),
    Allowed(_SQLITE, "kiosk/routes_kader.py", frozenset({"record_result"}),
            "one small INSERT into the kader's roster per finished measurement, from the "
            "measurement board's synchronous on_done callback (to move to a thread once the "
            "board awaits its callbacks)"),
    Allowed((*_FILE_IO, "io.TextIOWrapper.write", "io.BufferedWriter.write", "os.replace"),
            "gateway/kiosk_host.py", frozenset({"_remember_paired"}),
            "one small JSON file written when the operator pairs a meter, in the same step "
            "that starts the device's task on the loop (rare, operator-driven)"),
    Allowed(("os.unlink",), "simulators/demo_socket.py", frozenset({"serve"}),
            "the demo's control socket file is removed with one local syscall at shutdown "
            "(commented there as deliberate)"),
    Allowed(_FILE_IO, "zoneinfo/_tzpath.py", frozenset({"find_tzfile"}),
            "ZoneInfo finds and reads a zone's file once, then serves it from its cache"),
    Allowed(_FILE_IO, "zoneinfo/_common.py", frozenset({"load_tzdata", "load_data"}),
            "as above (reading the file found, or the tzdata package's copy)"),
    Allowed(_SQLITE, "central/store.py",
            frozenset({"count", "ids", "dead_letter_count", "dead_letter_reasons"}),
            "read-only queries the tests use to look at central's database; the service "
            "itself writes and reads only through its own DB thread"),
    Allowed(_SQLITE, "tests/core/test_outbox_fresh.py", frozenset({"db_fetch"}),
            "the test's own SQL check of what the outbox holds, made while its DB thread "
            "is idle"),
)


@pytest.fixture(autouse=True)
def _no_blocking_calls_in_the_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    test = getattr(request, "function", None)
    if (
        test is None
        or not inspect.iscoroutinefunction(test)
        or request.node.get_closest_marker("allow_blocking") is not None
    ):
        yield
        return
    with blockbuster_ctx(list(OUR_PACKAGES)) as buster:
        for allowed in ALLOWED:
            for name in allowed.functions:
                buster.functions[name].can_block_in(allowed.file, allowed.callers)
        yield
