"""`sdx demo`: a throwaway data directory with a living demo desk in it."""

from __future__ import annotations

import argparse
import shlex
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from sdx_tui.cli import UsageError

if TYPE_CHECKING:
    from sdx_tui.cli import CommandContext, Commands


def register(commands: Commands) -> None:
    """Add `demo`."""
    demo = commands.add(
        "demo",
        make_demo,
        "fill a throwaway data directory with a demo organisation and print how "
        "to open it",
    )
    demo.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="where to put it (default: a new temporary directory)",
    )


def make_demo(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx demo`."""
    from sdx_tui.backend.db import Database
    from sdx_tui.backend.demo import populate_demo

    if args.data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="sdx-demo-"))
    else:
        data_dir = args.data_dir.expanduser().resolve()
    database_file = data_dir / "sdx.db"
    if database_file.exists():
        raise UsageError(f"{data_dir} already holds a desk; give an empty directory")

    url = f"sqlite:///{database_file}"
    database = Database.open(url)
    try:
        database.upgrade()
        populate_demo(database)
    finally:
        database.dispose()

    context.print(f"demo desk ready in {data_dir}")
    context.print("open it with:")
    context.print(
        f"  SDX_DATA_DIR={shlex.quote(str(data_dir))} "
        f"SDX_DATABASE_URL={shlex.quote(url)} sdx"
    )
    context.print("Delete the directory when you are done; nothing else refers to it.")
    return 0
