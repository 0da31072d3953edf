"""`sdx user add|list`: the people at the desk and their roles.

``sdx user list --json`` prints a list of objects with the keys ``os_user``,
``display_name``, ``organisation``, ``roles`` (a sorted list), ``email``,
``whatsapp``, ``time_zone`` and ``active``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from sdx_tui.cli_output import json_text, table

if TYPE_CHECKING:
    from sdx_tui.backend.models import User
    from sdx_tui.cli import CommandContext, Commands


def register(commands: Commands) -> None:
    """Add the `user` verbs."""
    add = commands.verb("user", "add", add_user, "add a person who may use the desk")
    add.add_argument("os_user", metavar="OS-USER", help="their operating-system login")
    add.add_argument(
        "--role",
        action="append",
        required=True,
        metavar="ROLE[,ROLE]",
        help="operator, approver or admin; repeat or separate with commas",
    )
    add.add_argument("--name", default="", help="display name (default: OS-USER)")
    add.add_argument("--email", default="", help="address for approval links")
    add.add_argument("--whatsapp", default="", help="number for approval links")
    add.add_argument("--time-zone", help="IANA zone (default: the desk's)")

    listing = commands.verb("user", "list", list_users, "list the desk's people")
    listing.add_argument("--json", action="store_true", help="print JSON")


def user_json(user: User) -> dict[str, Any]:
    """The documented JSON form of a user."""
    return {
        "os_user": user.os_user,
        "display_name": user.display_name,
        "organisation": user.organisation.name,
        "roles": sorted(role.value for role in user.role_set),
        "email": user.email,
        "whatsapp": user.whatsapp,
        "time_zone": user.time_zone,
        "active": user.active,
    }


def add_user(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx user add`."""
    from sdx_tui.backend import identity

    user = identity.add_user(
        context.database,
        context.actor(),
        args.os_user,
        roles=",".join(args.role),
        email=args.email,
        whatsapp=args.whatsapp,
        display_name=args.name,
        time_zone=args.time_zone or context.settings.time_zone,
    )
    context.print(f"user {user.os_user} added with roles {user.roles}")
    return 0


def list_users(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx user list`."""
    from sdx_tui.backend import identity

    context.actor()  # only desk users may read the desk
    users = identity.list_users(context.database)
    if args.json:
        context.print(json_text([user_json(user) for user in users]))
        return 0
    rows = [
        [
            user.os_user,
            user.display_name,
            user.organisation.name,
            ",".join(sorted(role.value for role in user.role_set)),
            user.email,
            user.whatsapp,
            user.time_zone,
            "" if user.active else "inactive",
        ]
        for user in users
    ]
    headers = ["OS USER", "NAME", "ORGANISATION", "ROLES", "E-MAIL", "WHATSAPP", "ZONE"]
    for line in table([*headers, ""], rows):
        context.print(line)
    return 0
