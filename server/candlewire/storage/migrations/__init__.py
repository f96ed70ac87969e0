"""Alembic environment; kept inside the package so `migrate()` works from an installed wheel."""
