"""The two checks every test runs under (tests/support/logcheck.py, blocking.py) really fail a
test: each is proved on an inner pytest run in a subprocess, so the outer test's own checks
do not see the inner test's deliberate mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

INNER_CONFTEST = 'pytest_plugins = ["tests.support.logcheck", "tests.support.blocking"]\n'


def run_inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, source: str,
              ) -> pytest.RunResult:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_inner=source)
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-o", "asyncio_mode=auto",
        "-o", "asyncio_default_fixture_loop_scope=function", "-W", "error", timeout=60
    )


def test_malformed_log_call_fails_the_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_inner(pytester, monkeypatch, '''
import logging

LOG = logging.getLogger("gateway.inner")


def test_good() -> None:
    LOG.debug("%s and %s", "one", "two")


def test_bad_but_swallowed() -> None:
    # Production code that swallows the TypeError pytest's own handler raises.
    try:
        LOG.debug("%s and %s", "one")
    except Exception:
        pass
''')
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines([
        "*malformed %-format log call(s):*",
        "*test_inner.py:13 (gateway.inner): '%s and %s' % ('one',): TypeError*",
    ])


def test_blocking_call_from_our_code_in_the_loop_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_inner(pytester, monkeypatch, '''
import asyncio
import time
from pathlib import Path

from drivers.ble.capture import read_capture
from drivers.errors import DecodeError


def capture_file(tmp_path: Path) -> Path:
    path = tmp_path / "capture.jsonl"
    path.write_text("not json")
    return path


async def test_our_code_blocks(tmp_path: Path) -> None:
    path = capture_file(tmp_path)
    try:
        read_capture(path)  # reads the file on the loop thread
    except DecodeError:
        pass


async def test_our_code_in_a_thread(tmp_path: Path) -> None:
    path = capture_file(tmp_path)
    try:
        await asyncio.to_thread(read_capture, path)
    except DecodeError:
        pass


async def test_the_tests_own_setup_may_block() -> None:
    time.sleep(0.001)


def test_sync_tests_are_not_checked(tmp_path: Path) -> None:
    try:
        read_capture(capture_file(tmp_path))
    except DecodeError:
        pass
''')
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([
        "*BlockingError: Blocking call to io.TextIOWrapper.read*",
        "FAILED test_inner.py::test_our_code_blocks - *",
    ])
