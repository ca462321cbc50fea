"""Reading a stored payload's JSON fields in SQL, in the dialect of the engine at hand.

`readings.payload` is text (the bytes central accepted, re-encoded once), so each database is
asked to parse it: SQLite with `json_extract`/`json_type`, PostgreSQL with a cast to jsonb.
PostgreSQL would repeat the cast for every field named in a statement, so `payload_doc` gives
it once per row (a LATERAL subquery that the planner may not flatten) and the field helpers
read from that.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from central.store import readings


class PayloadDoc:
    """The payload of `readings` as each dialect reads it; `source` is the FROM to select from."""

    def __init__(self, engine: Engine) -> None:
        self.postgresql = engine.dialect.name == "postgresql"
        self._doc: sa.ColumnElement[object]
        if self.postgresql:
            from sqlalchemy.dialects.postgresql import JSONB

            # OFFSET 0 keeps the subquery from being pulled up into the outer query, where the
            # cast would be copied into every expression that names the document.
            parsed = (
                sa.select(sa.cast(readings.c.payload, JSONB).label("doc"))
                .correlate(readings)  # the outer row's payload, not a second scan of readings
                .offset(0)
                .lateral("payload_doc")
            )
            self.source: sa.FromClause = readings.join(parsed, sa.true())
            self._doc = parsed.c.doc
        else:
            self.source = readings
            self._doc = readings.c.payload

    def text(self, *path: str) -> sa.ColumnElement[str]:
        """The field as text (NULL when absent or JSON null)."""
        if self.postgresql:
            return sa.func.jsonb_extract_path_text(self._doc, *path)
        return sa.func.json_extract(self._doc, "$." + ".".join(path))

    def is_true(self, *path: str) -> sa.ColumnElement[bool]:
        """The field is JSON `true` (not 1, not "true": the schema says boolean)."""
        if self.postgresql:
            from sqlalchemy.dialects.postgresql import JSONB

            return sa.func.jsonb_extract_path(self._doc, *path) == sa.cast(
                sa.literal("true"), JSONB
            )
        return sa.func.json_type(self._doc, "$." + ".".join(path)) == "true"
