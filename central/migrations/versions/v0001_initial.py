"""Central's first schema: readings stored once by id, and dead letters with their reason.

The same tables `metadata.create_all` made before central had migrations, so a database from
then is stamped at this revision instead of created again.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "readings",
        # The reading id is the key: exactly once is the database's unique key, not luck.
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("gateway_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("measured_at", sa.String(32), nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_readings_gateway_id", "readings", ["gateway_id"])
    op.create_table(
        "dead_letters",
        sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(300), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
    )
