"""Central's process tests: on PostgreSQL (and SQLite where a scenario is cheap there too)."""

from __future__ import annotations

from tests.support.postgres import central_db_url, postgres, postgres_db

__all__ = ["central_db_url", "postgres", "postgres_db"]
