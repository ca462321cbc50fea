"""An index on the cascade's facts by receive time, then measured time, for the cascade cache's
validator (central/cascade_cache.py): "how many facts of this period were filed since the answer
was counted" reads the few index entries received since then, not every fact of the period.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_cascade_facts_received_measured", "cascade_facts", ["received_at", "measured_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_cascade_facts_received_measured", table_name="cascade_facts")
