"""Alembic revisions of the store schema (a package so it ships with the wheel)."""
