"""`sdx site agent-script SITE`: the RouterOS script that installs the agent.

The desk keeps only a hash of each site's token, so it cannot print the token
it gave out before. Either give that token back (``--token``, or ``--token -``
to read it from standard input, out of the shell history), or let the desk
issue a new one (``--rotate``; the device's old token stops working at once, so
run the new script on the device right away).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sdx_tui.cli import CommandContext, Commands

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::")


def register(commands: Commands) -> None:
    """Add `sdx site agent-script`."""
    parser = commands.verb(
        "site",
        "agent-script",
        agent_script,
        "print the RouterOS script that installs the polling agent on a site; "
        "only a hash of the token is kept, so give the saved --token or --rotate",
    )
    parser.add_argument("site", metavar="SITE")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--rotate",
        action="store_true",
        help="issue a new token for the script (the old one stops working at once)",
    )
    source.add_argument(
        "--token",
        metavar="TOKEN",
        help="the site's current token, as saved when it was made; '-' reads stdin",
    )
    parser.add_argument(
        "--interval",
        type=int,
        metavar="SECONDS",
        help="seconds between polls (default: endpoint.poll_interval)",
    )


def agent_script(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx site agent-script`."""
    from sdx_tui.backend import sites
    from sdx_tui.backend.identity import require_role
    from sdx_tui.backend.models import Role
    from sdx_tui.backend.routeros.render import render_agent_installer
    from sdx_tui.cli import UsageError

    if not args.rotate and args.token is None:
        raise UsageError(
            "the desk keeps only a hash of the site's token: give --token with the "
            "token saved when the site was added, or --rotate to issue a new one"
        )
    actor = context.actor()
    require_role(actor, Role.ADMIN)
    site = sites.get_site(context.database, args.site)
    endpoint = context.settings.endpoint
    interval = args.interval or endpoint.poll_interval

    if args.rotate:
        token = sites.rotate_token(context.database, actor, site.name)
        _warn(
            f"{site.name} has a new token; its old one stopped working. Run this "
            "script on the device now."
        )
    else:
        token = (sys.stdin.readline() if args.token == "-" else args.token).strip()
        if not sites.token_matches(token, site.token_hash):
            raise UsageError(f"that is not the current token of {site.name}")

    script = render_agent_installer(
        site_name=site.name,
        base_url=endpoint.base_url(),
        token=token,
        interval_seconds=interval,
    )
    if not endpoint.public_url and endpoint.host in _LOCAL_HOSTS:
        _warn(
            f"endpoint.public_url is not set, so the device will poll "
            f"{endpoint.base_url()}, which it cannot reach; set it in the settings."
        )
    context.out.write(script)
    return 0


def _warn(text: str) -> None:
    print(f"sdx site agent-script: {text}", file=sys.stderr)
