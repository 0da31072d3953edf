"""`sdx lint FILE...`: check RouterOS scripts from the shell.

Each finding is one line, ``path:line:column: CODE severity message``; with
``--format json`` the output is one JSON array of objects with the keys
``path``, ``line``, ``column``, ``code``, ``severity`` and ``message``. ``-``
reads standard input (shown as ``<stdin>``). Exit status: 0 when no finding is
an error, 1 when one is, 2 on bad usage or when a file cannot be read (binary,
not UTF-8, too large, missing), which is reported on standard error by name.

``--routeros VERSION`` turns on the version rules and, when a command tree for
that release is cached (``sdx schema fetch VERSION``), the path checks;
``--schema FILE`` checks paths against a restraml JSON file instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from sdx_tui.backend.routeros.lint import Finding, has_errors, lint
from sdx_tui.backend.routeros.schema import (
    CommandTree,
    find_cached_schema,
    load_cached_schema,
    load_schema,
)
from sdx_tui.backend.routeros.versions import parse_version

if TYPE_CHECKING:
    from sdx_tui.cli import CommandContext, Commands

MAX_SCRIPT_BYTES = 16 * 1024 * 1024
"""Larger inputs are refused rather than linted."""
STDIN_NAME = "<stdin>"


class Unreadable(Exception):
    """An input that is not a script we can lint; the message names the reason."""


def register(commands: Commands) -> None:
    """Add `sdx lint`."""
    parser = commands.add("lint", run_lint, "check RouterOS scripts for problems")
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="script files; '-' reads stdin"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--routeros",
        metavar="VERSION",
        help="the target RouterOS version, such as 7.15 (enables version checks)",
    )
    parser.add_argument(
        "--schema",
        metavar="FILE",
        type=Path,
        help="a restraml command tree (JSON) to check menu paths against",
    )


def read_script(name: str, stdin: BinaryIO | None = None) -> str:
    """The text of a script file (or stdin for ``-``), or :class:`Unreadable`."""
    try:
        if name == "-":
            source = stdin if stdin is not None else sys.stdin.buffer
            data = source.read(MAX_SCRIPT_BYTES + 1)
        else:
            path = Path(name)
            if path.is_dir():
                raise Unreadable("it is a directory")
            size = path.stat().st_size
            if size > MAX_SCRIPT_BYTES:
                raise Unreadable(
                    f"it is too large ({size:,} bytes; the limit is 16 MiB)"
                )
            data = path.read_bytes()
    except OSError as error:
        raise Unreadable(error.strerror or str(error)) from error

    if len(data) > MAX_SCRIPT_BYTES:
        raise Unreadable("it is too large (the limit is 16 MiB)")
    if b"\x00" in data:
        raise Unreadable("it is a binary file, not a script")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad = data[error.start]
        raise Unreadable(
            f"it is not UTF-8 text (byte 0x{bad:02X} at offset {error.start})"
        ) from error


def _schema(context: CommandContext, args: argparse.Namespace) -> CommandTree | None:
    if args.schema is not None:
        return load_schema(args.schema)
    if args.routeros is None:
        return None
    cache_dir = context.settings.schema_cache_dir
    cached = find_cached_schema(args.routeros, cache_dir)
    if cached is None:
        print(
            f"sdx lint: note: no command tree cached for RouterOS {args.routeros}; "
            f"menu paths are not checked (run 'sdx schema fetch {args.routeros}')",
            file=sys.stderr,
        )
        return None
    return load_cached_schema(cached.version, cache_dir)


def run_lint(context: CommandContext, args: argparse.Namespace) -> int:
    """Lint every file named; see the module docstring for output and status."""
    from sdx_tui.cli import UsageError

    if args.routeros is not None:
        try:
            parse_version(args.routeros)
        except ValueError as error:
            raise UsageError(str(error)) from error
    schema = _schema(context, args)

    unreadable = False
    results: list[tuple[str, Finding]] = []
    for name in args.files:
        shown = STDIN_NAME if name == "-" else name
        try:
            text = read_script(name)
        except Unreadable as error:
            print(f"sdx lint: error: cannot lint {shown}: {error}", file=sys.stderr)
            unreadable = True
            continue
        findings = lint(text, routeros_version=args.routeros, schema=schema)
        results += [(shown, finding) for finding in findings]

    if args.format == "json":
        context.print(json.dumps([_as_json(name, f) for name, f in results], indent=2))
    else:
        for name, f in results:
            context.print(
                f"{name}:{f.line}:{f.column}: {f.code} {f.severity} {f.message}"
            )

    if unreadable:
        return 2
    return 1 if has_errors([finding for _, finding in results]) else 0


def _as_json(name: str, finding: Finding) -> dict[str, object]:
    return {
        "path": name,
        "line": finding.line,
        "column": finding.column,
        "code": finding.code,
        "severity": finding.severity,
        "message": finding.message,
    }
