"""Central's tests run on both backends: `central_db_url` is a SQLite file, then PostgreSQL."""

from __future__ import annotations


