"""`sdx serve`: the device endpoint and the desk's background work, headless.

Runs until SIGINT or SIGTERM, then stops cleanly: what devices posted is in
the database and the last poll times are written before it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sdx_tui.cli import CommandContext, Commands
    from sdx_tui.config import Settings


def register(commands: Commands) -> None:
    """Add `sdx serve`."""
    parser = commands.add(
        "serve",
        serve,
        "serve the endpoint devices poll, without the desk's screens, until stopped",
    )
    parser.add_argument("--host", help="address to bind (default: endpoint.host)")
    parser.add_argument(
        "--port", type=int, help="TCP port, 0 for any free one (default: endpoint.port)"
    )
    parser.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this")
    parser.add_argument("--tls-key", metavar="PEM", help="the certificate's key")


def serve(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx serve`."""
    from sdx_tui.cli import UsageError

    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    for option, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path and not Path(path).is_file():
            raise UsageError(f"{option}: no such file: {path}")
    if args.port is not None and not 0 <= args.port <= 65535:
        raise UsageError("--port must be between 0 and 65535")

    # A headless desk's log is its record of deliveries: show them, not just problems.
    for name in ("sdx_tui", "agent_endpoint"):
        logging.getLogger(name).setLevel(logging.INFO)
    settings = context.settings
    if args.tls_cert:
        settings = settings.with_section(
            "endpoint", tls_cert=args.tls_cert, tls_key=args.tls_key
        )
    asyncio.run(_serve_until_signalled(context, settings, args.host, args.port))
    return 0


async def _serve_until_signalled(
    context: CommandContext, settings: Settings, host: str | None, port: int | None
) -> None:
    from sdx_tui.backend.runtime import DeskRuntime, default_services

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    services = default_services(settings, context.database)
    runtime = DeskRuntime(settings, context.database, services, host=host, port=port)
    await runtime.start()
    try:
        context.print(f"serving devices on {runtime.base_url} (Ctrl-C stops)")
        context.out.flush()
        await stop.wait()
        context.print("stopping")
    finally:
        await runtime.stop()
