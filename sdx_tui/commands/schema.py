"""`sdx schema fetch|import|list`: RouterOS command trees for path checks.

Trees are cached under the data directory (``Settings.schema_cache_dir``) as
``routeros-<version>.json``; ``sdx lint --routeros VERSION`` and the script
editor check menu paths and parameters against them. None of these commands
needs the database.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from sdx_tui.backend.routeros.schema import (
    DEFAULT_BASE_URL,
    fetch_schema,
    import_schema,
    list_cached_schemas,
)

if TYPE_CHECKING:
    from sdx_tui.cli import CommandContext, Commands


def register(commands: Commands) -> None:
    """Add the `schema` verbs."""
    fetch = commands.verb(
        "schema",
        "fetch",
        fetch_command,
        "download the command tree of a RouterOS release",
    )
    fetch.add_argument("version", metavar="VERSION", help="such as 7.22 or 7.15.3")
    fetch.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        metavar="URL",
        help=f"where <VERSION>/inspect.json is published (default: {DEFAULT_BASE_URL})",
    )

    imported = commands.verb(
        "schema", "import", import_command, "add a command tree from a JSON file"
    )
    imported.add_argument("file", metavar="FILE", type=Path)
    imported.add_argument(
        "--version",
        metavar="VERSION",
        help="the RouterOS version it describes, when the file does not say",
    )

    commands.verb("schema", "list", list_command, "list the cached command trees")


def fetch_command(context: CommandContext, args: argparse.Namespace) -> int:
    """Fetch a tree into the cache."""
    cached = fetch_schema(
        args.version, context.settings.schema_cache_dir, base_url=args.base_url
    )
    context.print(f"RouterOS {cached.version} command tree saved to {cached.path}")
    return 0


def import_command(context: CommandContext, args: argparse.Namespace) -> int:
    """Copy a tree file into the cache."""
    cached = import_schema(
        args.file, context.settings.schema_cache_dir, version=args.version
    )
    context.print(f"RouterOS {cached.version} command tree saved to {cached.path}")
    return 0


def list_command(context: CommandContext, args: argparse.Namespace) -> int:
    """Print one line per cached tree: version and file."""
    del args
    cached = list_cached_schemas(context.settings.schema_cache_dir)
    if not cached:
        context.print(
            "no command trees cached; add one with 'sdx schema fetch VERSION'"
        )
    for entry in cached:
        context.print(f"{entry.version}  {entry.path}")
    return 0
