"""`sdx site add|list|show|rotate-token`: a token is shown once, never stored."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from sdx_tui.backend.db import Database
from sdx_tui.backend.models import AuditEvent, Site
from sdx_tui.backend.sites import token_matches
from tests.cli.conftest import Sdx

SITE_KEYS = {
    "name",
    "organisation",
    "routeros_version",
    "time_zone",
    "tags",
    "address",
    "last_seen_at",
    "created_at",
}


def _token(output: str) -> str:
    match = re.search(r"^token: (\S+)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def _stored_hash(database: Database, name: str) -> str:
    with database.reading() as session:
        stored = session.scalar(select(Site.token_hash).where(Site.name == name))
    assert stored is not None
    return stored


def test_add_prints_the_token_once_and_stores_only_its_hash(
    sdx: Sdx, database: Database
) -> None:
    result = sdx("site", "add", "core-1", "--tags", "core,berlin")

    assert result.code == 0, result.err
    token = _token(result.out)
    assert "will not be shown again" in result.out
    stored = _stored_hash(database, "core-1")
    assert stored != token
    assert token_matches(token, stored)
    assert token not in sdx("site", "show", "core-1", "--json").out
    with database.reading() as session:
        details = session.scalars(select(AuditEvent.detail)).all()
    assert all(token not in detail for detail in details)


def test_show_a_site_as_json(sdx: Sdx) -> None:
    sdx(
        "site",
        "add",
        "core-1",
        "--routeros",
        "6.49.10",
        "--time-zone",
        "Europe/Berlin",
        "--tags",
        "core,berlin",
        "--address",
        "10.0.0.1",
    )

    shown = json.loads(sdx("site", "show", "core-1", "--json").out)

    assert set(shown) == SITE_KEYS
    assert shown["name"] == "core-1"
    assert shown["organisation"] == "My NOC"
    assert shown["routeros_version"] == "6.49.10"
    assert shown["time_zone"] == "Europe/Berlin"
    assert shown["tags"] == ["core", "berlin"]
    assert shown["address"] == "10.0.0.1"
    assert shown["last_seen_at"] is None
    assert shown["created_at"].endswith("+00:00")


def test_show_a_site_as_text(sdx: Sdx) -> None:
    sdx("site", "add", "core-1", "--tags", "core", "--time-zone", "Asia/Tokyo")

    lines = sdx("site", "show", "core-1").out.splitlines()

    assert "name:         core-1" in lines
    assert "RouterOS:     7.16" in lines
    assert "time zone:    Asia/Tokyo" in lines
    assert "last seen:    never" in lines
    assert "address:" in lines


def test_list_filters_by_tag_and_name(sdx: Sdx) -> None:
    sdx("site", "add", "core-1", "--tags", "core")
    sdx("site", "add", "core-2", "--tags", "core,lab")
    sdx("site", "add", "store-1", "--tags", "store")

    def names(*argv: str) -> list[str]:
        return [s["name"] for s in json.loads(sdx("site", "list", "--json", *argv).out)]

    assert names() == ["core-1", "core-2", "store-1"]
    assert names("--tag", "core") == ["core-1", "core-2"]
    assert names("--tag", "lab") == ["core-2"]
    assert names("--search", "store") == ["store-1"]
    table = sdx("site", "list").out.splitlines()
    assert table[0].split() == [
        "NAME",
        "ORGANISATION",
        "ROUTEROS",
        "ZONE",
        "TAGS",
        "LAST",
        "SEEN",
    ]
    assert table[2].split() == [
        "core-2",
        "My",
        "NOC",
        "7.16",
        "UTC",
        "core,lab",
        "never",
    ]


def test_rotate_token_replaces_the_old_one(sdx: Sdx, database: Database) -> None:
    old = _token(sdx("site", "add", "core-1").out)

    result = sdx("site", "rotate-token", "core-1")

    assert result.code == 0, result.err
    new = _token(result.out)
    assert new != old
    assert "will not be shown again" in result.out
    stored = _stored_hash(database, "core-1")
    assert token_matches(new, stored)
    assert not token_matches(old, stored)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["site", "show", "ghost"], "sdx site show: error: no site named 'ghost'"),
        (["site", "rotate-token", "ghost"], "no site named 'ghost'"),
        (["site", "add", "bad name"], "is not a valid site name"),
        (["site", "add", "x", "--routeros", "8.1"], "'8.1' is not a RouterOS version"),
        (["site", "add", "x", "--time-zone", "Nowhere"], "unknown time zone"),
        (["site", "add", "x", "--tags", "a b"], "'a b' is not a valid tag"),
    ],
)
def test_bad_input_is_a_one_line_error(
    sdx: Sdx, database: Database, argv: list[str], message: str
) -> None:
    result = sdx(*argv)

    assert result.code == 2
    assert message in result.err
    assert result.err.count("\n") == 1
    assert sdx("site", "list", "--json").out.strip() == "[]"


def test_a_site_name_is_unique(sdx: Sdx) -> None:
    sdx("site", "add", "core-1")

    again = sdx("site", "add", "core-1")

    assert again.code == 2
    assert "site 'core-1' exists already" in again.err


def test_only_an_admin_adds_sites_or_rotates_tokens(
    sdx: Sdx, monkeypatch: pytest.MonkeyPatch
) -> None:
    sdx("site", "add", "core-1")
    sdx("user", "add", "olivia", "--role", "operator")
    monkeypatch.setenv("LOGNAME", "olivia")

    assert sdx("site", "add", "core-2").code == 1
    denied = sdx("site", "rotate-token", "core-1")
    assert denied.code == 1
    assert "does not have the admin role" in denied.err
    assert sdx("site", "show", "core-1").code == 0
