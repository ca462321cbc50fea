"""The referral worklist (central/referrals.py): referrals, the readings each one links, their
history, and how far the readings have been scanned.

Revision ID: 0006
Revises: 0004

Chained to 0004 while the cascade's revision (0005) may be written beside it; the merge puts
it after 0005.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("episode", sa.Integer, nullable=False),
        sa.Column("first_reading_id", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("first_measured_at", sa.String(32), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("kelurahan", sa.String(20), nullable=True),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("pseudonym", "episode", name="uq_referrals_episode"),
    )
    op.create_index("ix_referrals_kelurahan_due", "referrals", ["kelurahan", "due_date"])
    op.create_index("ix_referrals_pseudonym_status", "referrals", ["pseudonym", "status"])
    op.create_table(
        "referral_readings",
        sa.Column("reading_id", sa.String(64), primary_key=True),
        sa.Column(
            "referral_id",
            sa.Integer,
            sa.ForeignKey("referrals.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("measured_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "referral_events",
        sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "referral_id",
            sa.Integer,
            sa.ForeignKey("referrals.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=True),
        sa.Column("detail", sa.String(500), nullable=False),
    )
    op.create_table(
        "referral_scan",
        sa.Column("name", sa.String(20), primary_key=True),
        sa.Column("received_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("referral_scan")
    op.drop_table("referral_events")
    op.drop_table("referral_readings")
    op.drop_index("ix_referrals_pseudonym_status", table_name="referrals")
    op.drop_index("ix_referrals_kelurahan_due", table_name="referrals")
    op.drop_table("referrals")
