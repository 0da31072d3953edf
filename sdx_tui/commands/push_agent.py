"""`sdx site push-agent SITE`: install the polling agent through the RouterOS API.

The desk gives the site a new token and writes the agent with it straight onto
the device, so the token is never shown to anyone. The device's password is
never taken on the command line: it comes from a file, an environment
variable, or a prompt.

A wrong password or a closed API port is found before the token changes, so a
failed attempt leaves the device's current agent working.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sdx_tui.cli import CommandContext, Commands

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::")


def register(commands: Commands) -> None:
    """Add `sdx site push-agent`."""
    parser = commands.verb(
        "site",
        "push-agent",
        push_agent_command,
        "install the polling agent on a site's device through the RouterOS API "
        "(port 8728, or 8729 with --ssl); the site gets a new token",
    )
    parser.add_argument("site", metavar="SITE")
    parser.add_argument(
        "--address",
        metavar="HOST",
        help="the device's API address (default: the site's address)",
    )
    parser.add_argument(
        "--port", type=int, metavar="PORT", help="API port (8728; 8729 with --ssl)"
    )
    parser.add_argument(
        "--user", default="admin", metavar="NAME", help="RouterOS user (admin)"
    )
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the RouterOS password from FILE (its first line)",
    )
    secret.add_argument(
        "--password-env",
        metavar="VAR",
        help="read the RouterOS password from the environment variable VAR",
    )
    parser.add_argument(
        "--ssl",
        action="store_true",
        help="use api-ssl and check the device's certificate",
    )
    parser.add_argument(
        "--ssl-ca",
        metavar="FILE",
        help="trust only this PEM certificate for the device (implies --ssl)",
    )
    parser.add_argument(
        "--interval",
        type=int,
        metavar="SECONDS",
        help="seconds between polls (default: endpoint.poll_interval)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for the device at each step (10)",
    )


def push_agent_command(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx site push-agent`."""
    from sdx_tui.backend import sites
    from sdx_tui.backend.agent_push import AgentPushError, check_login, push_agent
    from sdx_tui.backend.identity import require_role
    from sdx_tui.backend.models import Role
    from sdx_tui.backend.routeros.render import agent_entries
    from sdx_tui.cli import UsageError

    actor = context.actor()
    require_role(actor, Role.ADMIN)
    site = sites.get_site(context.database, args.site)
    address = (args.address or site.address).strip()
    if not address:
        raise UsageError(f"{site.name} has no address on record: give --address")
    endpoint = context.settings.endpoint
    base_url = endpoint.base_url()
    interval = args.interval or endpoint.poll_interval

    # Everything that can fail before the device is touched fails before the
    # token changes: the agent's values, the password, the login.
    agent_entries(
        site_name=site.name,
        base_url=base_url,
        token=sites.new_token(),
        interval_seconds=interval,
    )
    device: dict[str, Any] = {
        "address": address,
        "port": args.port,
        "username": args.user,
        "password": _password(args, address),
        "use_ssl": args.ssl,
        "ca_file": args.ssl_ca,
        "timeout": args.timeout,
    }
    check_login(**device)

    token = sites.rotate_token(context.database, actor, site.name)
    try:
        result = push_agent(
            **device,
            site_name=site.name,
            base_url=base_url,
            token=token,
            interval_seconds=interval,
        )
    except AgentPushError as error:
        raise type(error)(
            f"{str(error).rstrip('.')}. {site.name} has a new token already, so an "
            "agent left on the device cannot poll until a push succeeds."
        ) from None

    context.print(result.describe())
    context.print(f"{site.name} has a new token; only the device holds it.")
    if not endpoint.public_url and endpoint.host in _LOCAL_HOSTS:
        print(
            f"sdx site push-agent: endpoint.public_url is not set, so the device "
            f"will poll {base_url}, which it cannot reach; set it in the settings "
            "and push again.",
            file=sys.stderr,
        )
    return 0


def _password(args: argparse.Namespace, address: str) -> str:
    from sdx_tui.cli import UsageError

    if args.password_file:
        try:
            text = Path(args.password_file).read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(
                f"cannot read the password file {args.password_file}: "
                f"{error.strerror or error}"
            ) from None
        lines = text.splitlines()
        return lines[0] if lines else ""
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise UsageError(f"the environment variable {args.password_env} is unset")
        return value
    if sys.stdin.isatty():
        return getpass.getpass(f"RouterOS password for {args.user}@{address}: ")
    raise UsageError(
        "give the device's password with --password-file or --password-env "
        "(a prompt needs a terminal)"
    )
