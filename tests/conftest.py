"""Fixtures shared by the whole suite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sdx_tui.backend.db import Database
from sdx_tui.backend.identity import Actor, add_user, current_actor, initialise

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared data beside the project (corpus, schema)."""
    path = REPO_ROOT.parent / "shared"
    if not path.is_dir():
        pytest.fail(f"the shared data folder is missing: {path}")
    return path


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Keep every test away from the real user's settings and data."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("SDX_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("SDX_CONFIG", str(home / "settings.toml"))
    monkeypatch.delenv("SDX_DATABASE_URL", raising=False)
    monkeypatch.setenv("TZ", "UTC")
    yield


POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_database(name: str) -> Iterator[Database]:
    """A fresh schema on the local PostgreSQL for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # pragma: no cover - the server is part of CI
        admin.dispose()
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {error}")
    database = Database.open(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _sqlite_database(path: Path) -> Iterator[Database]:
    database = Database.open(f"sqlite:///{path / 'sdx.db'}")
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: once on SQLite, once on PostgreSQL."""
    source = (
        _postgres_database(request.node.name)
        if request.param == "postgresql"
        else _sqlite_database(tmp_path)
    )
    for database in source:
        database.upgrade()
        yield database


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty SQLite database, for tests whose path is the same on both."""
    for database in _sqlite_database(tmp_path):
        database.upgrade()
        yield database


@dataclass(frozen=True)
class Desk:
    """A database with an organisation and three people in it."""

    db: Database
    admin: Actor
    operator: Actor
    approver: Actor


def _populate(database: Database) -> Desk:
    admin = initialise(database, organisation="Test NOC", admin="admin")
    add_user(database, admin, "olivia", roles="operator", email="olivia@example.test")
    add_user(
        database,
        admin,
        "arthur",
        roles="approver",
        email="arthur@example.test",
        whatsapp="+4915112345678",
    )
    return Desk(
        db=database,
        admin=admin,
        operator=current_actor(database, "tui", "olivia"),
        approver=current_actor(database, "tui", "arthur"),
    )


@pytest.fixture
def desk(db: Database) -> Desk:
    """An initialised desk on both databases: admin, olivia (operator), arthur."""
    return _populate(db)


@pytest.fixture
def sqlite_desk(sqlite_db: Database) -> Desk:
    """An initialised desk on SQLite only."""
    return _populate(sqlite_db)
