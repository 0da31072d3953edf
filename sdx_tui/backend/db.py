"""The database: engine, sessions and migrations.

SQLite (WAL) is the embedded default; PostgreSQL works through the same code. On
SQLite every write session starts with ``BEGIN IMMEDIATE`` so that two processes
serialise on the write lock up front instead of failing to upgrade a read lock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def utcnow() -> datetime:
    """The current time, time-zone aware, in UTC."""
    return datetime.now(UTC)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is switched off so that we can issue
    # BEGIN IMMEDIATE ourselves (see Database.session).
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """One database, shared by the UI, the scheduler and the endpoint."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=False)
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Database:
        """Connect to ``url``, creating the SQLite file's folder if needed."""
        parsed = make_url(url)
        options: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif parsed.get_backend_name() == "postgresql" and parsed.drivername in (
            "postgresql",
            "postgres",
        ):
            parsed = parsed.set(drivername="postgresql+psycopg")
            options["pool_pre_ping"] = True
        engine = create_engine(parsed, **options)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        return cls(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session (never commits)."""
        session = self._sessions()
        session.connection(execution_options={"sdx_read_only": True})
        try:
            yield session
        finally:
            # close() ends the transaction without expiring what was loaded, so the
            # objects stay readable after the block.
            session.close()

    def upgrade(self) -> None:
        """Apply every migration that is not applied yet."""
        from sdx_tui.backend.migrate import upgrade

        upgrade(self)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _sqlite_begin(connection: Any) -> None:
    # Reads take a shared lock; a writer that later upgrades can deadlock with
    # another writer and fail with "database is locked". Taking the write lock at
    # BEGIN makes concurrent writers queue on busy_timeout instead.
    read_only = connection.get_execution_options().get("sdx_read_only", False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
