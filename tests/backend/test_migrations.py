"""Migrations build the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from sdx_tui.backend.db import Database
from sdx_tui.backend.migrate import current_revision, head_revision
from sdx_tui.backend.models import Base


def test_an_empty_database_migrates_to_the_head(db: Database) -> None:
    assert current_revision(db) == head_revision()
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_the_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrading_twice_changes_nothing(db: Database) -> None:
    db.upgrade()
    assert current_revision(db) == head_revision()
