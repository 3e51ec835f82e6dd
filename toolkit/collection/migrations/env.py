"""Alembic environment: the store always hands in its own open connection (no alembic.ini, no URL here)."""

from __future__ import annotations

from alembic import context

from toolkit.collection.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
