"""Remember broker refusals per reading so a refused reading waits instead of looping.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: SQLite does it in place, no table copy on a full outbox.
    op.add_column("outbox", sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
    op.add_column("outbox", sa.Column("last_error", sa.String(200)))
    op.add_column("outbox", sa.Column("retry_at", sa.Float))
    op.create_index("ix_outbox_confirmed_at", "outbox", ["confirmed_at"])
