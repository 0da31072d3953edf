"""Run `sdx` in-process, as a fixed OS user, against the isolated data dir."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from sdx_tui.backend.db import Database
from sdx_tui.cli import main
from sdx_tui.config import load_settings

OS_USER = "ada"


@dataclass(frozen=True)
class Result:
    """What one `sdx` command did."""

    code: int
    out: str
    err: str


Sdx = Callable[..., Result]


@pytest.fixture(autouse=True)
def os_user(monkeypatch: pytest.MonkeyPatch) -> str:
    """The OS user at the shell; getpass reads LOGNAME first."""
    monkeypatch.setenv("LOGNAME", OS_USER)
    return OS_USER


@pytest.fixture
def sdx(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Sdx:
    """Call ``sdx(*argv, stdin=b"...")`` and get its exit code and output."""

    def run(*argv: str, stdin: bytes = b"") -> Result:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def database() -> Iterator[Database]:
    """The database the commands use, to check what they wrote."""
    opened = Database.open(load_settings().effective_database_url)
    try:
        yield opened
    finally:
        opened.dispose()
