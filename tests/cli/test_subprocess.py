"""The installed entry points, run as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sdx_tui import __version__

pytestmark = pytest.mark.slow


def _sdx(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sdx_tui", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
        check=False,
    )


def test_version() -> None:
    result = _sdx("--version")

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"sdx {__version__}\n"


def test_site_add_then_show() -> None:
    added = _sdx("site", "add", "core-1", "--tags", "core", "--routeros", "7.15")
    assert added.returncode == 0, added.stderr
    assert "token: " in added.stdout

    shown = _sdx("site", "show", "core-1", "--json")

    assert shown.returncode == 0, shown.stderr
    site = json.loads(shown.stdout)
    assert (site["name"], site["tags"], site["routeros_version"]) == (
        "core-1",
        ["core"],
        "7.15",
    )
    missing = _sdx("site", "show", "core-9")
    assert missing.returncode == 2
    assert missing.stderr == "sdx site show: error: no site named 'core-9'\n"
