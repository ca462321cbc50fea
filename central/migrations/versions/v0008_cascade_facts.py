"""The cascade's extracted facts (central/cascade.py `cascade_facts`, filled on read); the scans
since a mark read readings by 0007's index on received_at.

Revision ID: 0008
Revises: 0007

The facts are not filled here: the first cascade view files every stored reading
(bench/RESULTS.md, "(k) dashboard pages", has how long that takes for 1,000,000).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cascade_facts",
        sa.Column("reading_id", sa.String(64), primary_key=True),
        sa.Column("gateway_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("measured_at", sa.String(32), nullable=False),
        sa.Column("measured_ms", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("pseudonym", sa.String(64), nullable=True),
        sa.Column("region", sa.Integer, nullable=True),
        sa.Column("sex", sa.String(10), nullable=True),
        sa.Column("age_band", sa.String(10), nullable=True),
        sa.Column("systolic", sa.Float, nullable=True),
        sa.Column("diastolic", sa.Float, nullable=True),
        sa.Column("glucose", sa.Float, nullable=True),
        sa.Column("meal", sa.String(20), nullable=True),
        sa.Column("hi", sa.Boolean, nullable=False),
        sa.Column("lo", sa.Boolean, nullable=False),
        sa.Column("control", sa.Boolean, nullable=False),
    )
    op.create_index("ix_cascade_facts_measured_at", "cascade_facts", ["measured_at"])
    op.create_index(
        "ix_cascade_facts_gateway_measured", "cascade_facts", ["gateway_id", "measured_at"]
    )
    op.create_table(
        "cascade_scan",
        sa.Column("name", sa.String(20), primary_key=True),
        sa.Column("received_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cascade_scan")
    op.drop_index("ix_cascade_facts_gateway_measured", table_name="cascade_facts")
    op.drop_index("ix_cascade_facts_measured_at", table_name="cascade_facts")
    op.drop_table("cascade_facts")
