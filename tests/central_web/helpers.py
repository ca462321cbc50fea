"""Accounts, a clock and a migrated database for the web app's tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI

from central.store import upgrade_schema
from central.web.accounts import AccountStore
from central.web.auth import Role
from tests.support.clock import FakeClock

PASSWORD = "kata-sandi-benar-1"
WILAYAH_A = ("6471011001", "6471011002")
WILAYAH_B = ("6471021001",)


class EpochClock:
    """The web app's clock (epoch seconds) over the tests' one fake wall clock."""

    def __init__(self) -> None:
        self.fake = FakeClock()

    def __call__(self) -> float:
        return self.fake().timestamp()

    def advance(self, seconds: float) -> None:
        self.fake.advance(seconds)


@contextmanager
def migrated(url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(url)
    try:
        upgrade_schema(engine)
        yield engine
    finally:
        engine.dispose()


def add_staff(accounts: AccountStore) -> None:
    """One account per role: dinkes `dina`, puskesmas `budi` (wilayah A), coordinator `citra`
    (wilayah B)."""
    accounts.add("dina", PASSWORD, Role.DINKES)
    accounts.add("budi", PASSWORD, Role.PUSKESMAS, puskesmas_id="pkm-a", wilayah=WILAYAH_A)
    accounts.add("citra", PASSWORD, Role.COORDINATOR, wilayah=WILAYAH_B)


@dataclass
class Served:
    url: str
    app: FastAPI


@contextmanager
def serve(app: FastAPI) -> Iterator[Served]:
    """The app under a real uvicorn on a free loopback port, in a thread of its own."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(server.serve(),), name="central-web-uvicorn"
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started"
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            time.sleep(0.02)
        yield Served(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(15)
        loop.close()
