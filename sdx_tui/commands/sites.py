"""`sdx site add|list|show|rotate-token`: the RouterOS devices of the fleet.

A site's token is printed once, when it is made; only its hash is stored. The
``--json`` form of a site has the keys ``name``, ``organisation``,
``routeros_version``, ``time_zone``, ``tags`` (a list), ``address``,
``last_seen_at`` and ``created_at`` (ISO-8601 in UTC, ``last_seen_at`` null
until the device first polls).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from sdx_tui.cli_output import iso, json_text, table

if TYPE_CHECKING:
    from sdx_tui.backend.models import Site
    from sdx_tui.cli import CommandContext, Commands

TOKEN_WARNING = (
    "Save this token now: it will not be shown again. "
    "'sdx site rotate-token {name}' makes a new one."
)


def register(commands: Commands) -> None:
    """Add the `site` verbs."""
    add = commands.verb("site", "add", add_site, "add a site and print its token once")
    add.add_argument("name", metavar="NAME", help="letters, digits, '.', '_', '-'")
    add.add_argument("--routeros", default="7.16", metavar="VERSION")
    add.add_argument("--time-zone", help="IANA zone (default: the desk's)")
    add.add_argument("--tags", default="", metavar="A,B", help="comma-separated")
    add.add_argument("--address", default="", help="management address, for people")

    listing = commands.verb("site", "list", list_sites, "list sites by name")
    listing.add_argument("--tag", default="", help="only sites with this tag")
    listing.add_argument("--search", default="", help="only names containing this")
    listing.add_argument("--json", action="store_true", help="print JSON")

    show = commands.verb("site", "show", show_site, "show one site")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true", help="print JSON")

    rotate = commands.verb(
        "site",
        "rotate-token",
        rotate_token,
        "give a site a new token; the old one stops working at once",
    )
    rotate.add_argument("name", metavar="NAME")


def site_json(site: Site) -> dict[str, Any]:
    """The documented JSON form of a site."""
    return {
        "name": site.name,
        "organisation": site.workspace.organisation.name,
        "routeros_version": site.routeros_version,
        "time_zone": site.time_zone,
        "tags": list(site.tags),
        "address": site.address,
        "last_seen_at": iso(site.last_seen_at),
        "created_at": iso(site.created_at),
    }


def add_site(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx site add`."""
    from sdx_tui.backend import sites

    site, token = sites.add_site(
        context.database,
        context.actor(),
        args.name,
        routeros_version=args.routeros,
        time_zone=args.time_zone or context.settings.time_zone,
        tags=args.tags,
        address=args.address,
    )
    context.print(f"site {site.name} added")
    context.print(f"token: {token}")
    context.print(TOKEN_WARNING.format(name=site.name))
    return 0


def list_sites(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx site list`."""
    from sdx_tui.backend import sites
    from sdx_tui.backend.timezones import format_in_zone

    context.actor()  # only desk users may read the desk
    found = sites.list_sites(context.database, search=args.search, tag=args.tag)
    if args.json:
        context.print(json_text([site_json(site) for site in found]))
        return 0
    rows = [
        [
            site.name,
            site.workspace.organisation.name,
            site.routeros_version,
            site.time_zone,
            ",".join(site.tags),
            format_in_zone(site.last_seen_at, site.time_zone) or "never",
        ]
        for site in found
    ]
    headers = ["NAME", "ORGANISATION", "ROUTEROS", "ZONE", "TAGS", "LAST SEEN"]
    for line in table(headers, rows):
        context.print(line)
    return 0


def show_site(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx site show`."""
    from sdx_tui.backend import sites
    from sdx_tui.backend.timezones import format_in_zone

    context.actor()  # only desk users may read the desk
    site = sites.get_site(context.database, args.name)
    if args.json:
        context.print(json_text(site_json(site)))
        return 0
    fields = [
        ("name", site.name),
        ("organisation", site.workspace.organisation.name),
        ("RouterOS", site.routeros_version),
        ("time zone", site.time_zone),
        ("tags", ", ".join(site.tags)),
        ("address", site.address),
        ("last seen", format_in_zone(site.last_seen_at, site.time_zone) or "never"),
        ("added", format_in_zone(site.created_at, site.time_zone)),
    ]
    for label, value in fields:
        context.print(f"{label + ':':<14}{value}".rstrip())
    return 0


def rotate_token(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx site rotate-token`."""
    from sdx_tui.backend import sites

    token = sites.rotate_token(context.database, context.actor(), args.name)
    name = args.name.strip()
    context.print(f"site {name} has a new token; the old one no longer works")
    context.print(f"token: {token}")
    context.print(TOKEN_WARNING.format(name=name))
    return 0
