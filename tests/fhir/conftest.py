"""The export's tests run on both backends: `central_db_url` is a SQLite file, then PostgreSQL."""

from __future__ import annotations

from tests.support.postgres import central_db_url, postgres, postgres_db

__all__ = ["central_db_url", "postgres", "postgres_db"]
