"""The `sdx` command: the desk with no arguments, admin commands otherwise.

Every module in :mod:`sdx_tui.commands` adds its own sub-commands through a
``register(commands)`` function, so this file stays a dispatcher. Exit codes:
0 success, 1 the command ran and found a problem, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from sdx_tui import __version__, commands
from sdx_tui.backend.errors import DeskError
from sdx_tui.config import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from sdx_tui.backend.db import Database
    from sdx_tui.backend.identity import Actor

Handler = Callable[["CommandContext", argparse.Namespace], int]


class UsageError(Exception):
    """Bad input from the person at the shell; reported in one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


@dataclass
class CommandContext:
    """What a command handler needs: settings, and the database on demand."""

    settings: Settings
    out: Any = field(default_factory=lambda: sys.stdout)
    _database: Database | None = None

    @property
    def database(self) -> Database:
        """The migrated database, initialised with defaults when empty."""
        if self._database is None:
            from sdx_tui.backend.db import Database
            from sdx_tui.backend.identity import ensure_initialised

            self._database = Database.open(self.settings.effective_database_url)
            self._database.upgrade()
            ensure_initialised(self._database)
        return self._database

    def actor(self) -> Actor:
        """The person at the shell: the OS user's record."""
        from sdx_tui.backend.identity import current_actor

        return current_actor(self.database, origin="cli")

    def print(self, text: str = "") -> None:
        """Write one line to the command's output."""
        print(text, file=self.out)

    def close(self) -> None:
        """Release the database."""
        if self._database is not None:
            self._database.dispose()


class Commands:
    """The sub-command tree, grouped by noun (`site`, `script`, ...)."""

    def __init__(self, subparsers: Any) -> None:
        self._subparsers = subparsers
        self._groups: dict[str, Any] = {}

    def add(self, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        """A top-level command such as `sdx lint`."""
        parser = self._subparsers.add_parser(name, help=help, description=help)
        parser.set_defaults(handler=handler)
        return parser  # type: ignore[no-any-return]

    def group(self, noun: str, help: str) -> Any:
        """The sub-parsers of a noun, shared by every module that adds verbs to it."""
        if noun not in self._groups:
            parser = self._subparsers.add_parser(noun, help=help, description=help)
            parser.set_defaults(handler=None, group_parser=parser)
            self._groups[noun] = parser.add_subparsers(
                dest=f"{noun}_command", metavar="COMMAND", parser_class=_Parser
            )
        return self._groups[noun]

    def verb(
        self, noun: str, verb: str, handler: Handler, help: str
    ) -> argparse.ArgumentParser:
        """A command such as `sdx site add`."""
        parser = self.group(noun, help=f"{noun} commands").add_parser(
            verb, help=help, description=help
        )
        parser.set_defaults(handler=handler)
        return parser  # type: ignore[no-any-return]


def build_parser() -> argparse.ArgumentParser:
    """The full `sdx` argument parser."""
    parser = _Parser(prog="sdx", description="SDX desk: RouterOS changes, safely.")
    parser.add_argument("--version", action="version", version=f"sdx {__version__}")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the desk on a throwaway data directory full of demo data",
    )
    parser.set_defaults(handler=None)
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    registry = Commands(subparsers)
    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{module.name}").register(registry)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `sdx` and `python -m sdx_tui`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )

    if args.handler is None and args.command is not None:
        args.group_parser.print_help()
        return 2
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"sdx: error: {error}", file=sys.stderr)
        return 2

    if args.handler is None:
        from sdx_tui.app import run_desk

        return run_desk(settings, demo=args.demo)

    context = CommandContext(settings)
    name = " ".join(
        part
        for part in (args.command, getattr(args, f"{args.command}_command", None))
        if part
    )
    try:
        return int(args.handler(context, args))
    except UsageError as error:
        print(f"sdx {name}: error: {error}", file=sys.stderr)
        return 2
    except DeskError as error:
        print(f"sdx {name}: error: {error}", file=sys.stderr)
        return error.exit_code
    except SettingsError as error:
        print(f"sdx: error: {error}", file=sys.stderr)
        return 2
    finally:
        context.close()
