"""Central's metrics are checked on both store backends, as central's own tests are."""

from __future__ import annotations

from tests.support.postgres import central_db_url, postgres, postgres_db

__all__ = ["central_db_url", "postgres", "postgres_db"]
