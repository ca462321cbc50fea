"""Per-reading SATUSEHAT delivery state (central/delivery_store.py).

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
    op.create_table(
        "fhir_delivery",
        # One row per reading: a state change is an upsert, never a second row.
        sa.Column("reading_id", sa.String(64), sa.ForeignKey("readings.id"), primary_key=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("server_id", sa.String(500), nullable=True),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    # The worker's queue query: queued rows by when they are due.
    op.create_index("ix_fhir_delivery_state_next", "fhir_delivery", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_fhir_delivery_state_next", table_name="fhir_delivery")
    op.drop_table("fhir_delivery")
