"""The README documents every command the parser knows."""

from __future__ import annotations

import argparse
from pathlib import Path

from sdx_tui.cli import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands(parser: argparse.ArgumentParser, prefix: str = "sdx") -> list[str]:
    found: list[str] = []
    for action in parser._actions:  # argparse keeps sub-parsers only here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _commands(sub, f"{prefix} {name}")
                found.extend(nested or [f"{prefix} {name}"])
    return found


def test_every_command_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    commands = _commands(build_parser())

    assert "sdx site add" in commands
    missing = [command for command in commands if f"`{command}" not in text]
    assert missing == []
