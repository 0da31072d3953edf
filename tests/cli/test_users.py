"""`sdx user add|list`."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from sdx_tui.backend.db import Database
from sdx_tui.backend.models import User
from tests.cli.conftest import OS_USER, Sdx

USER_KEYS = {
    "os_user",
    "display_name",
    "organisation",
    "roles",
    "email",
    "whatsapp",
    "time_zone",
    "active",
}


def test_add_a_user_with_every_option(sdx: Sdx) -> None:
    result = sdx(
        "user",
        "add",
        "olivia",
        "--role",
        "operator,approver",
        "--name",
        "Olivia Grant",
        "--email",
        "olivia@example.test",
        "--whatsapp",
        "+49 151 1234567",
        "--time-zone",
        "Europe/Berlin",
    )

    assert result.code == 0, result.err
    assert result.out == "user olivia added with roles approver,operator\n"
    [olivia] = [
        u
        for u in json.loads(sdx("user", "list", "--json").out)
        if u["os_user"] == "olivia"
    ]
    assert olivia == {
        "os_user": "olivia",
        "display_name": "Olivia Grant",
        "organisation": "My NOC",
        "roles": ["approver", "operator"],
        "email": "olivia@example.test",
        "whatsapp": "+491511234567",
        "time_zone": "Europe/Berlin",
        "active": True,
    }


def test_roles_may_be_repeated(sdx: Sdx) -> None:
    assert (
        sdx("user", "add", "arthur", "--role", "approver", "--role", "admin").code == 0
    )
    users = {u["os_user"]: u for u in json.loads(sdx("user", "list", "--json").out)}
    assert users["arthur"]["roles"] == ["admin", "approver"]
    assert set(users[OS_USER]) == USER_KEYS


def test_user_list_is_a_table(sdx: Sdx) -> None:
    sdx("user", "add", "olivia", "--role", "operator", "--email", "o@example.test")

    lines = sdx("user", "list").out.splitlines()

    assert lines[0].split() == [
        "OS",
        "USER",
        "NAME",
        "ORGANISATION",
        "ROLES",
        "E-MAIL",
        "WHATSAPP",
        "ZONE",
    ]
    assert lines[1].split() == [
        OS_USER,
        OS_USER,
        "My",
        "NOC",
        "admin,approver,operator",
        "UTC",
    ]
    assert lines[2].split() == [
        "olivia",
        "olivia",
        "My",
        "NOC",
        "operator",
        "o@example.test",
        "UTC",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--role", "boss"], "unknown role 'boss'"),
        (["--role", ","], "give at least one role"),
        (["--role", "operator", "--email", "nope"], "'nope' is not an e-mail address"),
        (["--role", "operator", "--whatsapp", "12ab"], "is not a WhatsApp number"),
        (["--role", "operator", "--time-zone", "Mars/Base"], "unknown time zone"),
    ],
)
def test_bad_values_are_one_line_errors_and_add_nobody(
    sdx: Sdx, database: Database, argv: list[str], message: str
) -> None:
    result = sdx("user", "add", "olivia", *argv)

    assert result.code == 2
    assert result.err.startswith("sdx user add: error: ")
    assert message in result.err
    assert result.err.count("\n") == 1
    with database.reading() as session:
        assert session.scalar(select(func.count(User.id))) == 1


def test_the_role_is_required(sdx: Sdx) -> None:
    result = sdx("user", "add", "olivia")

    assert result.code == 2
    assert "--role" in result.err


def test_a_user_cannot_be_added_twice(sdx: Sdx) -> None:
    assert sdx("user", "add", "olivia", "--role", "operator").code == 0

    again = sdx("user", "add", "olivia", "--role", "approver")

    assert again.code == 2
    assert "user 'olivia' exists already" in again.err


def test_only_an_admin_adds_users(sdx: Sdx, monkeypatch: pytest.MonkeyPatch) -> None:
    sdx("user", "add", "olivia", "--role", "operator")
    monkeypatch.setenv("LOGNAME", "olivia")

    result = sdx("user", "add", "mallory", "--role", "admin")

    assert result.code == 1
    assert "olivia does not have the admin role" in result.err
