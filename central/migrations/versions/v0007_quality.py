"""Data quality (central/quality.py): duplicates received per gateway and hour, the counts of
sealed days per gateway and device, and an index on when central received each reading.

Revision ID: 0007
Revises: 0006

Central counted duplicates only in memory (CentralStats), so after a restart, or across the
instances of a city's deployment, nobody could say which gateway resends: the store now adds
them up here, one row per gateway per UTC hour (an hour, so a period in any whole-hour zone
adds up from whole rows). The data-quality page asks "what came in this period", which is
central's receive time, not the reading's (possibly untrusted) measured_at: hence the index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COUNTS = (
    "readings",
    "untrusted_clock",
    "control_solution",
    "hi_lo",
    "unbound",
    "out_of_policy",
)


def upgrade() -> None:
    op.create_table(
        "duplicates_received",
        sa.Column("gateway_id", sa.String(100), primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True),  # epoch seconds, a whole UTC hour
        sa.Column("duplicates", sa.BigInteger, nullable=False),
    )
    # if_not_exists: a database made with create_all from today's models (before migrations,
    # then stamped 0001) already has it.
    # Sealed local days, counted once (central/quality.py): a month's page sums these instead
    # of parsing every payload of the month again.
    op.create_table(
        "quality_daily",
        sa.Column("gateway_id", sa.String(100), primary_key=True),
        sa.Column("device_id", sa.String(200), primary_key=True),
        sa.Column("day", sa.BigInteger, primary_key=True),  # epoch of the local day's midnight
        *(sa.Column(m, sa.BigInteger, nullable=False) for m in _COUNTS),
    )
    op.create_index("ix_quality_daily_day", "quality_daily", ["day"])
    op.create_table(
        "quality_rollup",
        sa.Column("name", sa.String(20), primary_key=True),
        sa.Column("through", sa.Float, nullable=False),  # readings received before are counted
    )
    op.create_index("ix_readings_received_at", "readings", ["received_at"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_readings_received_at", table_name="readings")
    op.drop_table("quality_rollup")
    op.drop_index("ix_quality_daily_day", table_name="quality_daily")
    op.drop_table("quality_daily")
    op.drop_table("duplicates_received")
