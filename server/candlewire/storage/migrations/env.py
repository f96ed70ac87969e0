"""Alembic environment: runs on the connection handed over by `candlewire.storage.db.migrate`."""

from __future__ import annotations

from alembic import context

from candlewire.storage.db import create_engine
from candlewire.storage.models import Base

VERSION_TABLE = "candlewire_schema_version"

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:  # type: ignore[no-untyped-def]
    # A table name of our own: Optuna keeps its studies in the same database with its own `alembic_version`.
    context.configure(
        connection=conn, target_metadata=Base.metadata, render_as_batch=True, version_table=VERSION_TABLE
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
