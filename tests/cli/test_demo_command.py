"""`sdx demo`: a throwaway data directory that the other commands can open."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from sdx_tui.backend.models import ScriptStatus
from tests.cli.conftest import OS_USER, Sdx


def test_demo_fills_a_directory_and_says_how_to_open_it(
    sdx: Sdx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "demo"

    result = sdx("demo", "--data-dir", str(target))

    assert result.code == 0, result.err
    assert (target / "sdx.db").is_file()
    [command] = [line for line in result.out.splitlines() if line.endswith(" sdx")]
    for assignment in shlex.split(command)[:-1]:
        name, value = assignment.split("=", 1)
        monkeypatch.setenv(name, value)
    scripts = json.loads(sdx("script", "list", "--json").out)
    assert {script["status"] for script in scripts} == set(ScriptStatus)
    users = json.loads(sdx("user", "list", "--json").out)
    assert OS_USER in {user["os_user"] for user in users}


def test_demo_never_writes_over_a_desk(sdx: Sdx, tmp_path: Path) -> None:
    assert sdx("demo", "--data-dir", str(tmp_path)).code == 0

    again = sdx("demo", "--data-dir", str(tmp_path))

    assert again.code == 2
    assert "already holds a desk" in again.err


def test_demo_leaves_the_configured_desk_alone(sdx: Sdx, tmp_path: Path) -> None:
    assert sdx("demo", "--data-dir", str(tmp_path / "demo")).code == 0

    assert json.loads(sdx("script", "list", "--json").out) == []
