"""Alembic migrations of the collection store, shipped inside the package so an installed wheel can migrate."""
