"""The web app's tables (schema: central/migrations/versions/v0003_web_accounts.py)."""

from __future__ import annotations

import sqlalchemy as sa

# On the store's metadata, so the models and the migrations are compared as one schema.
from central.store import metadata

web_users = sa.Table(
    "web_users",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("puskesmas_id", sa.String(64), nullable=True),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("password_changed_at", sa.Float, nullable=False),
)
# One row per kelurahan a user may see: later pages join on it instead of parsing a list.
web_user_wilayah = sa.Table(
    "web_user_wilayah",
    metadata,
    sa.Column(
        "username",
        sa.String(64),
        sa.ForeignKey("web_users.username", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("kelurahan", sa.String(20), primary_key=True),
)
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    # sha256 of the cookie's token: a copy of the table does not let anyone sign in.
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "username",
        sa.String(64),
        sa.ForeignKey("web_users.username", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_seen_at", sa.Float, nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
)
# Keyed by the name typed, known or not: a made-up name is limited like a real one, so the
# limit's message does not tell which names exist.
web_login_failures = sa.Table(
    "web_login_failures",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("window_start", sa.Float, nullable=False),
    sa.Column("locked_until", sa.Float, nullable=False),
)
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("n", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("what", sa.String(500), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(10), nullable=False),
    sa.Index("ix_audit_log_username_at", "username", "at"),
    sa.Index("ix_audit_log_action_at", "action", "at"),
)
