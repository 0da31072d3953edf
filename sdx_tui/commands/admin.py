"""`sdx init`, `sdx db upgrade` and `sdx db status`.

These open the database themselves: every other command initialises an empty
database with defaults, but `init` exists to choose the names, and `db` must
show the database as it is.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sdx_tui.backend.db import Database
    from sdx_tui.cli import CommandContext, Commands


def register(commands: Commands) -> None:
    """Add `init` and the `db` verbs."""
    init = commands.add(
        "init", initialise, "create the organisation and make its first admin"
    )
    init.add_argument("--org", default="", metavar="NAME", help="organisation name")
    init.add_argument(
        "--admin", metavar="OS-USER", help="the first admin (default: you)"
    )
    init.add_argument("--name", default="", help="the admin's display name")
    init.add_argument("--email", default="", help="the admin's e-mail address")

    commands.verb("db", "upgrade", upgrade, "apply the database migrations not applied")
    commands.verb("db", "status", status, "show the database, its schema and its data")


def _open(context: CommandContext) -> Database:
    from sdx_tui.backend.db import Database

    return Database.open(context.settings.effective_database_url)


def initialise(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx init`."""
    from sdx_tui.backend import identity

    database = _open(context)
    try:
        database.upgrade()
        actor = identity.initialise(
            database,
            organisation=args.org or identity.DEFAULT_ORGANISATION,
            admin=args.admin,
            display_name=args.name,
            email=args.email,
        )
    finally:
        database.dispose()
    organisation = args.org.strip() or identity.DEFAULT_ORGANISATION
    context.print(f"organisation {organisation!r} created; {actor.name} is its admin")
    context.print(f"database: {_shown_url(context)}")
    return 0


def upgrade(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx db upgrade`."""
    from sdx_tui.backend.migrate import current_revision, head_revision

    database = _open(context)
    try:
        before = current_revision(database)
        database.upgrade()
    finally:
        database.dispose()
    head = head_revision()
    if before == head:
        context.print(f"the schema is up to date ({head})")
    else:
        context.print(f"schema upgraded from {before or 'empty'} to {head}")
    return 0


def status(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx db status`: exits 1 when migrations are waiting."""
    from sdx_tui.backend.identity import is_initialised
    from sdx_tui.backend.migrate import current_revision, head_revision

    database = _open(context)
    try:
        current = current_revision(database)
        head = head_revision()
        initialised = current is not None and is_initialised(database)
    finally:
        database.dispose()

    context.print(f"database: {_shown_url(context)}")
    context.print(f"schema:   {current or 'empty'} (newest {head})")
    context.print(f"desk:     {'initialised' if initialised else 'not initialised'}")
    if current != head:
        context.print("Run 'sdx db upgrade' to apply the waiting migrations.")
        return 1
    return 0


def _shown_url(context: CommandContext) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(context.settings.effective_database_url)
    return url.render_as_string(hide_password=True)
