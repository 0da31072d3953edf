"""`sdx simulate`: a fleet of simulated devices polling the desk.

The sites are ``sim-00001`` ... in the configured database, tagged
``simulated``: made on first use, and given fresh tokens on every later run
(the desk keeps only token hashes). Without ``--server`` the endpoint runs in
this process on a free port; with it, the simulated devices poll that server,
which must use the same database. Launch a script to the simulated sites from
the desk to watch them take it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sdx_tui.backend.simulator import FleetSimulator, SimulationStats
    from sdx_tui.cli import CommandContext, Commands


def register(commands: Commands) -> None:
    """Add `sdx simulate`."""
    parser = commands.add(
        "simulate",
        simulate,
        "simulate a fleet of devices that poll the desk, run jobs and post results",
    )
    parser.add_argument("--devices", type=int, required=True, metavar="N")
    parser.add_argument(
        "--interval", type=float, required=True, metavar="S", help="seconds per poll"
    )
    parser.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of jobs that fail, 0 to 1 (a script with :error always fails)",
    )
    parser.add_argument(
        "--flap-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of requests lost on the way to the desk or back, 0 to 1",
    )
    parser.add_argument(
        "--server", metavar="URL", help="poll this desk instead of one started here"
    )
    parser.add_argument(
        "--duration", type=float, metavar="S", help="stop after S seconds (or Ctrl-C)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    parser.add_argument(
        "--prefix", default="sim", help="site names are PREFIX-00001 and up"
    )
    parser.add_argument("--routeros", default="7.16", metavar="VERSION")


def simulate(context: CommandContext, args: argparse.Namespace) -> int:
    """`sdx simulate`."""
    from sdx_tui.backend.simulator import FleetSimulator, provision_sites
    from sdx_tui.cli import UsageError

    if args.devices < 1:
        raise UsageError("--devices must be at least 1")
    if args.duration is not None and args.duration <= 0:
        raise UsageError("--duration must be positive")
    if args.interval <= 0:
        raise UsageError("--interval must be positive")
    for option, rate in (
        ("--fail-rate", args.fail_rate),
        ("--flap-rate", args.flap_rate),
    ):
        if not 0.0 <= rate <= 1.0:
            raise UsageError(f"{option} must be between 0 and 1")

    sites = provision_sites(
        context.database,
        context.actor(),
        args.devices,
        prefix=args.prefix,
        routeros_version=args.routeros,
    )
    context.print(
        f"{len(sites):,} simulated site(s) {sites[0].name} .. {sites[-1].name}, "
        "tagged 'simulated', with fresh tokens"
    )
    simulator = FleetSimulator(
        sites,
        server=args.server or "http://127.0.0.1",
        interval=args.interval,
        fail_rate=args.fail_rate,
        flap_rate=args.flap_rate,
        seed=args.seed,
    )
    stats = asyncio.run(_run(context, simulator, args))
    context.print("summary: " + stats.line().strip())
    context.print(
        f"{len(simulator.decisions):,} deliveries run: "
        f"{sum(d.status == 'completed' for d in simulator.decisions.values()):,} "
        f"completed, "
        f"{sum(d.status == 'failed' for d in simulator.decisions.values()):,} failed"
    )
    return 0


async def _run(
    context: CommandContext, simulator: FleetSimulator, args: argparse.Namespace
) -> SimulationStats:
    from sdx_tui.backend.runtime import DeskRuntime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    runtime = None
    if not args.server:
        # A private plain-HTTP endpoint on loopback: the desk's public URL and
        # certificate belong to the real endpoint, not to this one.
        local = context.settings.with_section(
            "endpoint", public_url="", tls_cert="", tls_key=""
        )
        runtime = DeskRuntime(local, context.database, host="127.0.0.1", port=0)
        await runtime.start()
        simulator.server = runtime.base_url
        context.print(f"endpoint started on {runtime.base_url}")
    try:
        context.print(
            f"polling every {args.interval:g} s"
            + (f" for {args.duration:g} s" if args.duration else "; Ctrl-C stops")
        )
        async with simulator:
            return await simulator.run(
                duration=args.duration,
                stop=stop,
                progress=context.print,
                progress_every=max(5.0, args.interval),
            )
    finally:
        if runtime is not None:
            await runtime.stop()
