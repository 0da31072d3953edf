"""`sdx script create|list|show|edit|cancel`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sdx_tui.backend import lifecycle
from sdx_tui.backend.db import Database
from sdx_tui.backend.models import AuditEvent, Script, ScriptStatus
from tests.cli.conftest import OS_USER, Sdx

SCRIPT_KEYS = {
    "id",
    "description",
    "status",
    "author",
    "targets",
    "test_site",
    "launch_at",
    "next_launch_at",
    "time_zone",
    "recurrence",
    "make_backup",
    "revision",
    "created_at",
    "updated_at",
}
CONTENT = '/system identity set name="core"\n:log info "done"\n'


@pytest.fixture
def rsc(tmp_path: Path) -> Path:
    """A RouterOS script file."""
    path = tmp_path / "identity.rsc"
    path.write_text(CONTENT, encoding="utf-8")
    return path


@pytest.fixture
def sites(sdx: Sdx) -> list[str]:
    """Three sites to target."""
    names = ["core-1", "core-2", "lab"]
    for name in names:
        assert sdx("site", "add", name).code == 0
    return names


def _show(sdx: Sdx, script_id: int) -> dict[str, object]:
    result = sdx("script", "show", str(script_id), "--json")
    assert result.code == 0, result.err
    value: dict[str, object] = json.loads(result.out)
    return value


def _script_count(database: Database) -> int:
    with database.reading() as session:
        return session.scalar(select(func.count(Script.id))) or 0


def test_create_with_every_option(sdx: Sdx, rsc: Path, sites: list[str]) -> None:
    result = sdx(
        "script",
        "create",
        "--description",
        "Set the identity",
        "--file",
        str(rsc),
        "--sites",
        "core-2,core-1",
        "--launch-at",
        "2030-12-24T02:00",
        "--time-zone",
        "Europe/Berlin",
        "--recurrence",
        "0 2 * * 1",
        "--make-backup",
        "--test-site",
        "lab",
    )

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "script 1 created (unauthorized)",
        "Ask for approval with 'sdx script request-auth 1'.",
    ]
    shown = _show(sdx, 1)
    assert set(shown) == SCRIPT_KEYS | {"content"}
    assert shown["status"] == "unauthorized"
    assert shown["author"] == OS_USER
    assert shown["targets"] == ["core-1", "core-2"]
    assert shown["test_site"] == "lab"
    # 02:00 in Berlin in winter is 01:00 UTC.
    assert shown["launch_at"] == "2030-12-24T01:00:00+00:00"
    assert shown["time_zone"] == "Europe/Berlin"
    assert shown["recurrence"] == "0 2 * * 1"
    assert shown["make_backup"] is True
    assert shown["revision"] == 1
    assert shown["content"] == CONTENT


def test_create_reads_standard_input(sdx: Sdx, sites: list[str]) -> None:
    result = sdx(
        "script",
        "create",
        "--description",
        "from a pipe",
        "--file",
        "-",
        "--sites",
        "lab",
        stdin=CONTENT.encode(),
    )

    assert result.code == 0, result.err
    shown = _show(sdx, 1)
    assert shown["content"] == CONTENT
    assert shown["launch_at"] is None
    assert shown["make_backup"] is False
    assert shown["test_site"] is None


def test_create_with_an_unknown_site_leaves_nothing_behind(
    sdx: Sdx, database: Database, rsc: Path, sites: list[str]
) -> None:
    result = sdx(
        "script",
        "create",
        "--description",
        "x",
        "--file",
        str(rsc),
        "--sites",
        "core-1,ghost",
    )

    assert result.code == 2
    assert result.err == "sdx script create: error: no site named 'ghost'\n"
    assert _script_count(database) == 0
    with database.reading() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "script.created" not in actions
    assert sdx("script", "list", "--json").out.strip() == "[]"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--launch-at", "tomorrow"], "'tomorrow' is not an ISO-8601 time"),
        (["--time-zone", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["--recurrence", "every day"], "is not a cron expression"),
        (["--test-site", "ghost"], "no site named 'ghost'"),
        (["--description", "   "], "a script needs a description"),
        (["--sites", " , "], "--sites names no site"),
    ],
)
def test_bad_options_are_one_line_errors(
    sdx: Sdx,
    database: Database,
    rsc: Path,
    sites: list[str],
    options: list[str],
    message: str,
) -> None:
    given = {"--description": "x", "--file": str(rsc), "--sites": "lab"}
    given.update(zip(options[::2], options[1::2], strict=True))
    argv = [part for pair in given.items() for part in pair]

    result = sdx("script", "create", *argv)

    assert result.code == 2
    assert message in result.err
    assert result.err.count("\n") == 1
    assert _script_count(database) == 0


def test_unreadable_files_are_one_line_errors(
    sdx: Sdx, database: Database, tmp_path: Path, sites: list[str]
) -> None:
    binary = tmp_path / "backup.bin"
    binary.write_bytes(b"\xff\xfe\x00binary")
    huge = tmp_path / "huge.rsc"
    huge.write_bytes(b"#" * 1_000_001)

    for path, message in [
        (tmp_path / "missing.rsc", "cannot read"),
        (binary, "is not UTF-8 text"),
        (huge, "is larger than 1 MB"),
        (tmp_path, "cannot read"),
    ]:
        argv = ["--description", "x", "--file", str(path), "--sites", "lab"]
        result = sdx("script", "create", *argv)
        assert result.code == 2, path
        assert message in result.err
        assert str(path) in result.err
    assert _script_count(database) == 0


def test_list_filters_by_status_and_text(
    sdx: Sdx, database: Database, rsc: Path, sites: list[str]
) -> None:
    for description in ["NTP servers", "SNMP community", "NTP pool"]:
        argv = ["--description", description, "--file", str(rsc), "--sites", "lab"]
        assert sdx("script", "create", *argv).code == 0
    assert sdx("script", "cancel", "2").code == 0

    def ids(*argv: str) -> list[int]:
        found = json.loads(sdx("script", "list", "--json", *argv).out)
        return [script["id"] for script in found]

    assert ids() == [3, 2, 1]
    assert ids("--status", "cancelled") == [2]
    assert ids("--status", "unauthorized,cancelled") == [3, 2, 1]
    assert ids("--status", "unauthorized", "--search", "ntp") == [3, 1]
    assert ids("--status", "scheduled") == []
    [first] = json.loads(sdx("script", "list", "--json", "--search", "SNMP").out)
    assert set(first) == SCRIPT_KEYS


def test_list_as_a_table(sdx: Sdx, rsc: Path, sites: list[str]) -> None:
    argv = ["--file", str(rsc), "--sites", "lab,core-1", "--time-zone", "Asia/Tokyo"]
    sdx(
        "script",
        "create",
        "--description",
        "NTP",
        *argv,
        "--launch-at",
        "2030-01-02T03:04",
    )

    lines = sdx("script", "list").out.splitlines()

    assert lines[0].split() == [
        "ID",
        "STATUS",
        "LAUNCH",
        "SITES",
        "AUTHOR",
        "DESCRIPTION",
    ]
    assert lines[1].split() == [
        "1",
        "unauthorized",
        "2030-01-02",
        "03:04",
        "JST",
        "2",
        OS_USER,
        "NTP",
    ]


def test_an_unknown_status_is_refused(sdx: Sdx) -> None:
    result = sdx("script", "list", "--status", "done")

    assert result.code == 2
    assert "unknown status 'done' (known: unauthorized, scheduled" in result.err


def test_show_as_text(sdx: Sdx, rsc: Path, sites: list[str]) -> None:
    sdx(
        "script",
        "create",
        "--description",
        "Set the identity",
        "--file",
        str(rsc),
        "--sites",
        "core-1,lab",
        "--test-site",
        "lab",
    )

    lines = sdx("script", "show", "1").out.splitlines()

    assert lines[0] == "script 1: Set the identity"
    assert "status:       unauthorized (revision 1)" in lines
    assert "sites (2):    core-1, lab" in lines
    assert "test site:    lab" in lines
    assert "launch at:    not set" in lines
    assert lines[lines.index("--- content ---") + 1 :] == CONTENT.splitlines()


@pytest.mark.parametrize("verb", ["show", "edit", "cancel"])
def test_unknown_ids_are_clear_errors(sdx: Sdx, verb: str) -> None:
    options = ["--description", "x"] if verb == "edit" else []

    result = sdx("script", verb, "42", *options)

    assert result.code == 2
    assert result.err == f"sdx script {verb}: error: script 42 does not exist\n"
    not_a_number = sdx("script", verb, "forty-two", *options)
    assert not_a_number.code == 2
    assert "invalid int value: 'forty-two'" in not_a_number.err


def test_edit_sends_a_scheduled_script_back_to_unauthorized(
    sdx: Sdx, database: Database, rsc: Path, sites: list[str], tmp_path: Path
) -> None:
    argv = ["--description", "x", "--file", str(rsc), "--sites", "lab"]
    sdx("script", "create", *argv, "--launch-at", "2030-06-01T12:00")
    with database.session() as session:
        lifecycle.transition_script(session, 1, ScriptStatus.SCHEDULED)
    new_content = tmp_path / "new.rsc"
    new_content.write_text(":log info new\n", encoding="utf-8")

    result = sdx(
        "script",
        "edit",
        "1",
        "--description",
        "Better",
        "--file",
        str(new_content),
        "--sites",
        "core-1,core-2",
        "--time-zone",
        "America/New_York",
        "--launch-at",
        "2030-06-01T12:00",
        "--no-make-backup",
        "--test-site",
        "core-2",
    )

    assert result.code == 0, result.err
    assert "script 1 edited (revision 2)" in result.out
    shown = _show(sdx, 1)
    assert shown["status"] == "unauthorized"
    assert shown["description"] == "Better"
    assert shown["content"] == ":log info new\n"
    assert shown["targets"] == ["core-1", "core-2"]
    assert shown["test_site"] == "core-2"
    # Read in the new zone: noon in New York in June is 16:00 UTC.
    assert shown["launch_at"] == "2030-06-01T16:00:00+00:00"
    assert shown["revision"] == 2


def test_edit_reads_a_launch_time_in_the_scripts_zone(
    sdx: Sdx, rsc: Path, sites: list[str]
) -> None:
    argv = ["--description", "x", "--file", str(rsc), "--sites", "lab"]
    sdx("script", "create", *argv, "--time-zone", "Asia/Tokyo")

    assert sdx("script", "edit", "1", "--launch-at", "2030-01-01T09:00").code == 0

    assert _show(sdx, 1)["launch_at"] == "2030-01-01T00:00:00+00:00"


def test_edit_can_clear_the_launch_time_test_site_and_recurrence(
    sdx: Sdx, rsc: Path, sites: list[str]
) -> None:
    argv = ["--description", "x", "--file", str(rsc), "--sites", "lab"]
    sdx(
        "script",
        "create",
        *argv,
        "--launch-at",
        "2030-01-01T09:00Z",
        "--test-site",
        "lab",
        "--recurrence",
        "0 9 * * *",
    )

    result = sdx(
        "script", "edit", "1", "--no-launch-at", "--no-test-site", "--recurrence", ""
    )

    assert result.code == 0, result.err
    shown = _show(sdx, 1)
    assert (shown["launch_at"], shown["test_site"], shown["recurrence"]) == (
        None,
        None,
        "",
    )


def test_edit_with_nothing_to_change_is_refused(sdx: Sdx) -> None:
    result = sdx("script", "edit", "1")

    assert result.code == 2
    assert "nothing to change" in result.err


def test_edit_with_an_unknown_site_changes_nothing(
    sdx: Sdx, rsc: Path, sites: list[str]
) -> None:
    argv = ["--description", "x", "--file", str(rsc), "--sites", "lab"]
    sdx("script", "create", *argv)

    result = sdx("script", "edit", "1", "--description", "y", "--sites", "ghost")

    assert result.code == 2
    shown = _show(sdx, 1)
    assert (shown["description"], shown["targets"], shown["revision"]) == (
        "x",
        ["lab"],
        1,
    )


def test_conflicting_options_are_refused(sdx: Sdx) -> None:
    result = sdx("script", "edit", "1", "--launch-at", "2030-01-01", "--no-launch-at")

    assert result.code == 2
    assert "not allowed with argument" in result.err


def test_cancel_and_cancel_again(sdx: Sdx, rsc: Path, sites: list[str]) -> None:
    argv = ["--description", "x", "--file", str(rsc), "--sites", "lab"]
    sdx("script", "create", *argv)

    assert sdx("script", "cancel", "1").out == "script 1 cancelled\n"

    again = sdx("script", "cancel", "1")
    assert again.code == 1
    assert "script 1 is cancelled; it cannot become cancelled" in again.err
    edit = sdx("script", "edit", "1", "--description", "y")
    assert edit.code == 2
    assert "only unauthorized or scheduled scripts can be edited" in edit.err


def test_an_approver_only_user_cannot_create(
    sdx: Sdx, rsc: Path, sites: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sdx("user", "add", "arthur", "--role", "approver")
    monkeypatch.setenv("LOGNAME", "arthur")

    argv = ["--description", "x", "--file", str(rsc), "--sites", "lab"]
    result = sdx("script", "create", *argv)

    assert result.code == 1
    assert "arthur does not have the operator role" in result.err
