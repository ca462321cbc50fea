"""Index the refused readings, so that status does not scan the whole backlog.

`gempita status` and the status topic count refused readings and show the newest refusal
every few seconds. Without an index those queries read every pending row of the table
(84 ms with 100,000 unconfirmed readings, on the DB thread every readings commit waits for).
A partial index holds only refused rows: empty in normal operation, nothing for an insert
or a PUBLISHED mark to maintain.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_refused",
        "outbox",
        ["seq"],
        sqlite_where=sa.text("state = 0 AND last_error IS NOT NULL"),
    )
