"""The fleet tables (central/fleet_store.py): each gateway's latest status, and its timeline.

Revision ID: 0004
Revises: 0002

Chained to 0002 while the accounts revision (0003) is written beside it; the merge puts it
after 0003.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fleet_gateways",
        sa.Column("gateway_id", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=True),
        sa.Column("site_id", sa.String(100), nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("version", sa.String(40), nullable=True),
        sa.Column("status_at", sa.Float, nullable=True),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("state_since", sa.Float, nullable=False),
        sa.Column("outbox_pending", sa.Integer, nullable=True),
        sa.Column("outbox_published", sa.Integer, nullable=True),
        sa.Column("outbox_unconfirmed", sa.Integer, nullable=True),
        sa.Column("outbox_refused", sa.Integer, nullable=True),
        sa.Column("outbox_max", sa.Integer, nullable=True),
        sa.Column("oldest_unconfirmed_age_s", sa.Float, nullable=True),
        sa.Column("clock_trusted", sa.Boolean, nullable=True),
        sa.Column("reported_alarms", sa.Text, nullable=False),
        sa.Column("devices", sa.Text, nullable=False),
        sa.Column("alarms", sa.Text, nullable=False),
    )
    op.create_table(
        "fleet_events",
        sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("gateway_id", sa.String(100), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("status_at", sa.Float, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("code", sa.String(120), nullable=False),
        sa.Column("detail", sa.String(300), nullable=True),
        # Every central instance records the same change: the key lets only one row in.
        sa.UniqueConstraint("gateway_id", "status_at", "kind", "code", name="uq_fleet_events_key"),
    )
    # The detail page's timeline: one gateway's events, newest first.
    op.create_index("ix_fleet_events_gateway_at", "fleet_events", ["gateway_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_fleet_events_gateway_at", table_name="fleet_events")
    op.drop_table("fleet_events")
    op.drop_table("fleet_gateways")
