"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
