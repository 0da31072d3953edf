"""Schema migrations with Alembic, applied at start and by `sdx db upgrade`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

if TYPE_CHECKING:
    from sdx_tui.backend.db import Database

log = logging.getLogger(__name__)

# Any fixed number: every desk on one PostgreSQL database migrates under it.
_ADVISORY_LOCK = 0x5D7_0001


def alembic_config() -> Config:
    """The Alembic configuration, pointing at the packaged migrations."""
    from sdx_tui.backend.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest migration this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(database: Database) -> str | None:
    """The migration the database is at, or None when it is empty."""
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _migration_lock(connection: Connection) -> Iterator[None]:
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK})
    connection.commit()
    try:
        yield
    finally:
        connection.execute(
            text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK}
        )
        connection.commit()


def upgrade(database: Database) -> None:
    """Bring the schema to the newest migration; a no-op when it is there."""
    if current_revision(database) == head_revision():
        return
    config = alembic_config()
    with database.engine.connect() as connection, _migration_lock(connection):
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
    log.info("database migrated to %s", head_revision())
