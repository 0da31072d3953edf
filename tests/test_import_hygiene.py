"""The backend and the endpoint never import the user interface."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("textual", "sdx_tui.screens", "sdx_tui.widgets", "sdx_tui.app")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _layer_files() -> list[Path]:
    backend = (ROOT / "sdx_tui" / "backend").rglob("*.py")
    return sorted([*backend, *(ROOT / "agent_endpoint").rglob("*.py")])


@pytest.mark.parametrize("path", _layer_files(), ids=lambda p: p.name)
def test_no_ui_import(path: Path) -> None:
    bad = {
        name
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_layer_has_files() -> None:
    assert len(_layer_files()) > 10
