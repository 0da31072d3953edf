"""`sdx init`, `sdx db upgrade|status`, and first use of any other command."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sdx_tui.backend.db import Database
from sdx_tui.backend.identity import is_initialised
from sdx_tui.backend.models import Organisation, User
from tests.cli.conftest import OS_USER, Sdx


def test_init_creates_the_organisation_and_its_admin(
    sdx: Sdx, database: Database
) -> None:
    result = sdx("init", "--org", "Acme NOC", "--email", "ada@acme.example")

    assert result.code == 0, result.err
    assert f"'Acme NOC' created; {OS_USER} is its admin" in result.out
    with database.reading() as session:
        organisation = session.scalar(select(Organisation))
        admin = session.scalar(select(User))
    assert organisation is not None and organisation.name == "Acme NOC"
    assert admin is not None
    assert (admin.os_user, admin.roles) == (OS_USER, "admin,approver,operator")
    assert admin.email == "ada@acme.example"


def test_init_can_name_another_admin(sdx: Sdx, database: Database) -> None:
    assert sdx("init", "--admin", "noc-service").code == 0

    with database.reading() as session:
        assert session.scalars(select(User.os_user)).all() == ["noc-service"]
    denied = sdx("site", "list")
    assert denied.code == 1
    assert f"OS user {OS_USER!r} is not a desk user" in denied.err


def test_init_twice_is_refused(sdx: Sdx) -> None:
    assert sdx("init", "--org", "First").code == 0

    again = sdx("init", "--org", "Second")

    assert again.code == 2
    assert again.err == "sdx init: error: the desk is already initialised\n"


def test_init_rejects_a_bad_admin_name_and_writes_nothing(
    sdx: Sdx, database: Database
) -> None:
    result = sdx("init", "--admin", "bad name!")

    assert result.code == 2
    assert "not a valid OS user name" in result.err
    assert not is_initialised(database)


def test_any_other_command_initialises_an_empty_desk(
    sdx: Sdx, database: Database
) -> None:
    result = sdx("user", "list")

    assert result.code == 0, result.err
    assert OS_USER in result.out
    with database.reading() as session:
        names = session.scalars(select(Organisation.name)).all()
    assert names == ["My NOC"]


def test_db_status_reports_an_empty_database_without_changing_it(
    sdx: Sdx, database: Database
) -> None:
    result = sdx("db", "status")

    assert result.code == 1
    assert "schema:   empty" in result.out
    assert "not initialised" in result.out
    assert "sdx db upgrade" in result.out
    from sdx_tui.backend.migrate import current_revision

    assert current_revision(database) is None


def test_db_upgrade_then_status(sdx: Sdx) -> None:
    from sdx_tui.backend.migrate import head_revision

    upgraded = sdx("db", "upgrade")
    assert upgraded.code == 0
    assert f"schema upgraded from empty to {head_revision()}" in upgraded.out
    assert "up to date" in sdx("db", "upgrade").out

    status = sdx("db", "status")
    assert status.code == 0
    assert f"schema:   {head_revision()} (newest {head_revision()})" in status.out
    assert "desk:     not initialised" in status.out


def test_db_status_never_prints_the_database_password(
    sdx: Sdx, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The local server trusts every login, so the password is only there to be
    # hidden; the schema does not exist, so nothing is read or written.
    monkeypatch.setenv(
        "SDX_DATABASE_URL",
        "postgresql://postgres:s3cret-pw@127.0.0.1:5432/test"
        "?options=-csearch_path%3Dno_such_schema",
    )

    result = sdx("db", "status")

    assert result.code == 1, result.err
    assert "s3cret-pw" not in result.out + result.err
    assert "postgres:***@127.0.0.1:5432/test" in result.out


def test_a_group_without_a_verb_prints_its_help(sdx: Sdx) -> None:
    result = sdx("db")

    assert result.code == 2
    assert "upgrade" in result.out and "status" in result.out
