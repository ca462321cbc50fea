"""A pytest plugin that fails a test whose code made a malformed %-format log call.

`_LOGGER.info("%s took %d ms", name)` raises inside logging only when a handler formats the
record; in production that is a "--- Logging error ---" on stderr and a lost line, often
at a level the test run never formats. This plugin formats every record of our packages,
DEBUG included, and fails the test in teardown with the call site of each bad record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

# Our production packages: their loggers are opened to DEBUG for the test so a bad format
# string at DEBUG is found too (other libraries' levels are left alone).
OUR_PACKAGES = ("core", "gateway", "drivers", "kiosk", "central", "broker", "simulators")


@dataclass(frozen=True, slots=True)
class BadLogCall:
    logger: str
    where: str
    msg: str
    args: str
    error: str

    def __str__(self) -> str:
        return f"{self.where} ({self.logger}): {self.msg!r} % {self.args}: {self.error}"


class FormatCheckHandler(logging.Handler):
    """Formats each record's message and remembers the ones that cannot be formatted."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.errors: list[BadLogCall] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.getMessage()
        except Exception as exc:
            self.errors.append(
                BadLogCall(
                    logger=record.name,
                    where=f"{record.pathname}:{record.lineno}",
                    msg=str(record.msg),
                    args=repr(record.args),
                    error=f"{type(exc).__name__}: {exc}",
                )
            )


@pytest.fixture(autouse=True)
def _fail_on_malformed_log_calls() -> Iterator[FormatCheckHandler]:
    handler = FormatCheckHandler()
    root = logging.getLogger()
    # First in line: pytest's own capture handler raises on a bad record, which would stop
    # the handler chain before this one saw it.
    root.handlers.insert(0, handler)
    saved = {name: logging.getLogger(name).level for name in OUR_PACKAGES}
    for name in OUR_PACKAGES:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
    if handler.errors:
        lines = "\n".join(f"  {error}" for error in handler.errors)
        pytest.fail(f"malformed %-format log call(s):\n{lines}", pytrace=False)
