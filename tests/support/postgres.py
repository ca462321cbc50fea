"""Run Debian's real PostgreSQL for tests: one server per session, a fresh database per test.

The server is `initdb` + `pg_ctl` from /usr/lib/postgresql/<ver>/bin in a temp directory, on a
free loopback port, its unix socket inside that directory. PostgreSQL refuses to run as root
(and tests run as root here and in CI), so under root every server process runs as the
`postgres` system user the Debian package creates. fsync is off: a test needs the server's
semantics (locks, ON CONFLICT, transactions), not its durability.

Fixtures (import them into a conftest.py or test module that uses them):
- `postgres`: the session's server (started on first use; a second conftest importing the
  fixture shares it through the config stash instead of starting another).
- `central_db_url`: central's store URL, parametrised over a SQLite file and a fresh PostgreSQL
  database, so a test that takes it runs on both backends.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import free_port

PG_USER = "postgres"  # the system user of Debian's postgresql package; also the superuser
START_TIMEOUT_S = 30
START_ATTEMPTS = 3


class PostgresMissing(RuntimeError):
    pass


def pg_bindir(root: Path = Path("/usr/lib/postgresql")) -> Path:
    """The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/<ver>)."""
    found = sorted(
        root.glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise PostgresMissing(
            f"PostgreSQL is not installed (no {root}/*/bin/initdb): "
            "run `make system-deps` (Debian package `postgresql`)"
        )
    return found[-1].parent


class PostgresServer:
    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or pg_bindir()
        self.port = 0
        self.root: Path | None = None
        self._names = itertools.count(1)
        self._as_user: str | None = None
        self._as_group: int | None = None
        if os.geteuid() == 0:
            try:
                self._as_group = pwd.getpwnam(PG_USER).pw_gid
            except KeyError as exc:
                raise PostgresMissing(
                    f"running as root and there is no '{PG_USER}' user to run PostgreSQL as "
                    "(the Debian postgresql package creates it)"
                ) from exc
            self._as_user = PG_USER

    @property
    def data(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        result = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            user=self._as_user,
            group=self._as_group,
            extra_groups=[] if self._as_user else None,  # drop root's groups too
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd="/",  # the postgres user may not be allowed into the caller's cwd
        )
        if result.returncode != 0:
            log = self.root / "server.log" if self.root else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(
                f"{args[0]} failed ({result.returncode}): {result.stderr.strip()}\n{tail}"
            )

    def start(self) -> None:
        # Not under pytest's tmp_path: its base directory is 0700 root, which the postgres
        # user cannot traverse.
        self.root = Path(tempfile.mkdtemp(prefix="gempita-pg-"))
        if self._as_user:
            shutil.chown(self.root, self._as_user)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            PG_USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        for attempt in range(START_ATTEMPTS):
            # free_port() cannot hold the port for us: another process may bind it first.
            # Then try another one (a later `port =` line overrides an earlier one).
            self.port = free_port()
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.write(f"port = {self.port}\n")
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.root / "server.log"),
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "start",
                    timeout=START_TIMEOUT_S + 5,
                )
            except RuntimeError:
                if attempt == START_ATTEMPTS - 1:
                    raise
            else:
                return

    def halt(self) -> None:
        """`pg_ctl stop -m fast`, keeping the data: clients' sessions are cut, new ones refused."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start a halted server again, on the same port and data."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.data.parent / "server.log"),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
            timeout=START_TIMEOUT_S + 5,
        )

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=PG_USER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # our own identifiers: names made by create_database

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        # FORCE: a test that failed may still hold connections; they must not keep it alive.
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_SERVER_KEY = pytest.StashKey[PostgresServer]()


@pytest.fixture(scope="session")
def postgres(request: pytest.FixtureRequest) -> PostgresServer:
    config = request.config
    server = config.stash.get(_SERVER_KEY, None)
    if server is not None:
        return server
    try:
        server = PostgresServer()
    except PostgresMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI must run the PostgreSQL tests: make test installs it)")
        pytest.skip(str(exc))
    try:
        server.start()
    except BaseException:
        server.stop()  # a half-started server and its temp dir must not outlive the run
        raise
    config.stash[_SERVER_KEY] = server
    config.add_cleanup(server.stop)
    return server


@pytest.fixture
def postgres_db(postgres: PostgresServer) -> Iterator[str]:
    """URL of a fresh, empty database, dropped after the test."""
    name = postgres.create_database()
    try:
        yield postgres.url(name)
    finally:
        postgres.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def central_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Central's store URL on each backend: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.db'}"
    url: str = request.getfixturevalue("postgres_db")
    return url
