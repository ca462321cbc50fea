"""Alembic environment: migrations always run on the connection the store hands over.

The store opens the transaction (and, on PostgreSQL, takes the migration lock) itself, so
Alembic's begin_transaction() joins it instead of committing on its own.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection)
with context.begin_transaction():
    context.run_migrations()
