"""Delivery runs against the local FHIR test server over real HTTP, on both central backends."""

from __future__ import annotations

from tests.support.fhir_server import fhir_server
from tests.support.postgres import central_db_url, postgres, postgres_db

__all__ = ["central_db_url", "fhir_server", "postgres", "postgres_db"]
