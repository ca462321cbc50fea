"""The PostgreSQL test server itself: found where Debian puts it, or a message that says why."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.postgres import PostgresMissing, PostgresServer, pg_bindir


def test_missing_binaries_say_how_to_install_them(tmp_path: Path) -> None:
    with pytest.raises(PostgresMissing, match=r"make system-deps.*postgresql"):
        pg_bindir(tmp_path)


def test_the_newest_installed_version_is_chosen(tmp_path: Path) -> None:
    for version in ("9", "15", "13"):
        bindir = tmp_path / version / "bin"
        bindir.mkdir(parents=True)
        (bindir / "initdb").touch()
    assert pg_bindir(tmp_path) == tmp_path / "15" / "bin"


def test_each_database_is_fresh_and_the_server_is_not_run_as_root(
    postgres: PostgresServer,
) -> None:
    first, second = postgres.create_database(), postgres.create_database()
    try:
        assert first != second
        engine = sa.create_engine(postgres.url(first))
        try:
            with engine.connect() as conn:
                tables = conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                ).scalar_one()
                # Our own temp cluster, not some other server that happened to answer.
                data_dir = conn.exec_driver_sql("SHOW data_directory").scalar_one()
                fsync = conn.exec_driver_sql("SHOW fsync").scalar_one()
        finally:
            engine.dispose()
        assert tables == 0
        assert postgres.root is not None
        assert data_dir == str(postgres.data)
        assert fsync == "off"
        pid = (postgres.data / "postmaster.pid").read_text().split()[0]
        uid_line = next(
            line
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("Uid:")
        )
        assert int(uid_line.split()[1]) != 0  # PostgreSQL refuses root: never tried as root
    finally:
        postgres.drop_database(first)
        postgres.drop_database(second)
