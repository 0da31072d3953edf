"""Poll endpoint speed, against a bare Starlette route measured in the same run.

1. Idle polls (204) per second, p50 and p99 latency, of the device endpoint with
   ``--db-sites`` sites in the database, against a bare Starlette route that
   returns a fixed 204, both under the same uvicorn settings, each in its own
   process, driven by the same bounded asyncio load generator: keep-alive
   connections, then a new connection per poll. The two servers take turns, so
   drift in machine load hits both alike. Target: ratio >= 0.5.
2. Latency at a fixed rate (default 1,000 polls/s, open loop: latency counts
   from when a poll was due, so a stalled server cannot hide). Target: endpoint
   p99 < 50 ms.
3. Fan-out: a launch to ``--sites`` simulated sites polling every ``--interval``
   seconds; time until every outcome is final, in poll intervals. Target <= 2.
   The full run is ``--sites 10000 --interval 30``. The fleet runs in
   ``--fleet-processes`` processes so that the simulator keeps its pace; the
   bench prints the rate it achieved.
4. The desk's screens with the endpoint embedded: time from a section key to
   the section on screen, with no load and while another process polls the
   embedded endpoint at ``--tui-rate`` (default 500) polls/s.

Usage: python bench/bench_poll.py [--db-sites N] [--connections N] [--seconds S]
       [--rounds N] [--rate R] [--sites N] [--interval S] [--fleet-processes N]
       [--tui-rate R] [--database URL] [--skip-idle] [--skip-tui] [--skip-fanout]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sdx_tui.backend import lifecycle  # noqa: E402
from sdx_tui.backend.db import Database, utcnow  # noqa: E402
from sdx_tui.backend.identity import Actor, initialise  # noqa: E402
from sdx_tui.backend.models import (  # noqa: E402
    Outcome,
    OutcomeStatus,
    RunKind,
    Script,
    ScriptStatus,
    Site,
)
from sdx_tui.backend.runs import create_run  # noqa: E402
from sdx_tui.backend.simulator import (  # noqa: E402
    FleetSimulator,
    SimulatedSite,
    provision_sites,
)
from sdx_tui.backend.sites import hash_token, new_token  # noqa: E402
from sdx_tui.config import Settings  # noqa: E402

# -- the servers under test (run in child processes) -----------------------------


def _uvicorn_config(app: object) -> object:
    import uvicorn

    # The same settings for both servers; uvloop and httptools as installed.
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        log_level="warning",
        access_log=False,
        lifespan="on",
        loop="uvloop",
        http="httptools",
    )


def serve(kind: str, database_url: str) -> None:
    """Child process: serve one app on a free port and print the port."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    if kind == "bare":

        async def nothing(_request: Request) -> Response:
            return Response(status_code=204)

        app: Starlette = Starlette(routes=[Route("/agent/v1/poll", nothing)])
    else:
        from agent_endpoint.app import create_endpoint

        settings = bench_settings(Path(tempfile.mkdtemp()))
        app = create_endpoint(settings, Database.open(database_url))

    sock = socket.create_server(("127.0.0.1", 0), backlog=4096)
    print(sock.getsockname()[1], flush=True)
    server = uvicorn.Server(_uvicorn_config(app))  # type: ignore[arg-type]
    server.run(sockets=[sock])


def bench_settings(data_dir: Path) -> Settings:
    """Settings whose rate limit stays out of the way of a load generator."""
    settings = Settings(data_dir=data_dir, config_path=data_dir / "settings.toml")
    return settings.with_section("endpoint", rate_per_minute=10_000_000)


@dataclass
class Child:
    """A server in a child process."""

    name: str
    process: subprocess.Popen[str]
    port: int


@contextmanager
def child_server(kind: str, database_url: str) -> Iterator[Child]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--database", database_url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            raise SystemExit(f"the {kind} server did not start")
        yield Child(kind, process, int(line))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the load generator -----------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 client connection that reads one response at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.waiter: asyncio.Future[int] | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0 or self.waiter is None:
            return
        head = self.buffer[:head_end]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        end = head_end + 4 + length
        if len(self.buffer) < end:
            return
        status = int(head[9:12])
        self.buffer = self.buffer[end:]
        waiter, self.waiter = self.waiter, None
        if not waiter.done():
            waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))
        if not self.closed.done():
            self.closed.set_result(None)

    async def request(self, payload: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return await self.waiter


def _requests(tokens: Sequence[str], close: bool) -> list[bytes]:
    connection = b"close" if close else b"keep-alive"
    return [
        b"GET /agent/v1/poll HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer "
        + token.encode()
        + b"\r\nConnection: "
        + connection
        + b"\r\n\r\n"
        for token in tokens
    ]


@dataclass
class Load:
    """What one load run measured."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0
    server_cpu: float = float("nan")
    """CPU seconds the server process used during the run."""

    @property
    def cpu_per_poll(self) -> float:
        """Server CPU per answered poll, in microseconds."""
        return 1e6 * self.server_cpu / max(1, len(self.latencies))

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _closed_loop(
    port: int, tokens: Sequence[str], connections: int, seconds: float, new: bool
) -> Load:
    loop = asyncio.get_running_loop()
    payloads = _requests(tokens, close=new)
    load = Load(seconds)
    deadline = time.perf_counter() + seconds

    async def open_connection() -> _Connection:
        _, protocol = await loop.create_connection(_Connection, "127.0.0.1", port)
        return protocol

    async def worker(index: int) -> None:
        connection = None if new else await open_connection()
        sent = index
        while time.perf_counter() < deadline:
            payload = payloads[sent % len(payloads)]
            sent += connections
            began = time.perf_counter()
            try:
                if new:
                    connection = await open_connection()
                assert connection is not None
                status = await connection.request(payload)
            except (ConnectionError, OSError):
                load.failures += 1
                connection = None if new else await open_connection()
                continue
            load.latencies.append(time.perf_counter() - began)
            load.statuses[status] = load.statuses.get(status, 0) + 1
            if new and connection.transport is not None:
                connection.transport.close()
        if connection is not None and connection.transport is not None:
            connection.transport.close()

    await asyncio.gather(*(worker(i) for i in range(connections)))
    return load


async def _open_loop(
    port: int, tokens: Sequence[str], connections: int, seconds: float, rate: float
) -> Load:
    """Polls due at a fixed rate, spread over keep-alive connections."""
    loop = asyncio.get_running_loop()
    payloads = _requests(tokens, close=False)
    load = Load(seconds)
    started = time.perf_counter()
    per_connection = rate / connections

    async def worker(index: int) -> None:
        _, connection = await loop.create_connection(_Connection, "127.0.0.1", port)
        number = 0
        while True:
            due = started + (index / rate) + number / per_connection
            if due - started >= seconds:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            status = await connection.request(
                payloads[(index + number * connections) % len(payloads)]
            )
            load.latencies.append(time.perf_counter() - due)
            load.statuses[status] = load.statuses.get(status, 0) + 1
            number += 1
        assert connection.transport is not None
        connection.transport.close()

    await asyncio.gather(*(worker(i) for i in range(connections)))
    return load


def run_load(work: Callable[[], object], server: Child | None = None) -> Load:
    import uvloop

    before = cpu_seconds(server)
    load: Load = uvloop.run(work())  # type: ignore[arg-type]
    load.server_cpu = cpu_seconds(server) - before
    return load


def cpu_seconds(server: Child | None) -> float:
    """CPU time used so far by a child server (Linux); NaN where unknown."""
    try:
        assert server is not None
        fields = Path(f"/proc/{server.process.pid}/stat").read_text().split(")")[1]
        user, system = fields.split()[11:13]
    except (AssertionError, OSError, ValueError):
        return float("nan")
    return (int(user) + int(system)) / os.sysconf("SC_CLK_TCK")


# -- setup --------------------------------------------------------------------------


def fill_sites(database: Database, actor: Actor, count: int) -> list[str]:
    """``count`` sites with known tokens, inserted in one statement."""
    tokens = [new_token() for _ in range(count)]
    with database.session() as session:
        session.execute(
            insert(Site),
            [
                {
                    "workspace_id": 1,
                    "name": f"bench-{number:05d}",
                    "routeros_version": "7.16",
                    "time_zone": "UTC",
                    "tags": ["bench"],
                    "address": "",
                    "token_hash": hash_token(token),
                }
                for number, token in enumerate(tokens)
            ],
        )
    assert actor.organisation_id
    return tokens


# -- the measurements -----------------------------------------------------------------


def idle(args: argparse.Namespace, database_url: str, tokens: list[str]) -> None:
    print(
        f"\nidle polls (204): {len(tokens):,} sites in the database, "
        f"{args.connections} connections, {args.seconds:g} s per measurement, "
        f"{args.rounds} round(s)"
    )
    with (
        child_server("bare", database_url) as bare,
        child_server("endpoint", database_url) as endpoint,
    ):
        servers = (bare, endpoint)
        for server in servers:  # warm up both
            run_load(
                lambda s=server: _closed_loop(s.port, tokens, 8, 1.0, False)  # type: ignore[misc]
            )
        for mode, new in (("keep-alive", False), ("new connection per poll", True)):
            results: dict[str, list[Load]] = {server.name: [] for server in servers}
            for _ in range(args.rounds):
                for server in servers:
                    results[server.name].append(
                        run_load(
                            lambda s=server, n=new: _closed_loop(  # type: ignore[misc]
                                s.port, tokens, args.connections, args.seconds, n
                            ),
                            server,
                        )
                    )
            report(mode, results)

        print(
            f"\nfixed rate {args.rate:,.0f} polls/s for {args.seconds:g} s (open loop)"
        )
        for server in servers:
            load = run_load(
                lambda s=server: _open_loop(  # type: ignore[misc]
                    s.port, tokens, args.connections, args.seconds, args.rate
                )
            )
            print(
                f"  {server.name:<10} served {load.rate:8,.0f}/s  "
                f"p50 {load.quantile(0.5):6.1f} ms  p99 {load.quantile(0.99):6.1f} ms"
                f"  statuses {load.statuses}"
            )
            if server.name == "endpoint":
                verdict = "ok" if load.quantile(0.99) < 50 else "MISSED"
                print(f"  endpoint p99 target < 50 ms: {verdict}")


def report(mode: str, results: dict[str, list[Load]]) -> None:
    print(f"\n  {mode}")
    print(
        f"  {'server':<10} {'polls/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU µs/poll':>12}  statuses"
    )
    rates: dict[str, float] = {}
    costs: dict[str, float] = {}
    for name, loads in results.items():
        rates[name] = statistics.median(load.rate for load in loads)
        costs[name] = statistics.median(load.cpu_per_poll for load in loads)
        p50 = statistics.median(load.quantile(0.5) for load in loads)
        p99 = statistics.median(load.quantile(0.99) for load in loads)
        statuses: dict[int, int] = {}
        for load in loads:
            for status, count in load.statuses.items():
                statuses[status] = statuses.get(status, 0) + count
        failures = sum(load.failures for load in loads)
        print(
            f"  {name:<10} {rates[name]:9,.0f} {p50:8.1f} {p99:8.1f} "
            f"{costs[name]:12.1f}  {statuses}"
            + (f" ({failures} failed)" if failures else "")
        )
    ratio = rates["endpoint"] / rates["bare"]
    verdict = "ok" if ratio >= 0.5 else "MISSED"
    print(f"  ratio endpoint/bare: {ratio:.2f} (target >= 0.5: {verdict})")
    # Throughput swings with whatever else the machine runs; the server's own
    # CPU per poll is the steadier figure of what the endpoint adds.
    print(f"  CPU per poll, bare/endpoint: {costs['bare'] / costs['endpoint']:.2f}")


def fleet_worker(
    slice_path: str, server: str, interval: float, seed: int, connections: int
) -> None:
    """Child process: poll as a share of the simulated fleet until SIGTERM, then
    print the share's counters as JSON."""
    sites = [
        SimulatedSite(name, token)
        for name, token in json.loads(Path(slice_path).read_text(encoding="utf-8"))
    ]

    async def poll_until_stopped() -> dict[str, float]:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        simulator = FleetSimulator(
            sites,
            server=server,
            interval=interval,
            seed=seed,
            max_connections=connections,
        )
        async with simulator:
            print("ready", flush=True)
            stats = await simulator.run(stop=stop)
        counters = {k: v for k, v in vars(stats).items() if k != "started"}
        return {**counters, "seconds": time.monotonic() - stats.started}

    print(json.dumps(asyncio.run(poll_until_stopped())), flush=True)


def fanout(args: argparse.Namespace, database: Database, actor: Actor) -> None:
    print(
        f"\nfan-out: a launch to {args.sites:,} simulated sites polling every "
        f"{args.interval:g} s, the fleet in {args.fleet_processes} process(es)"
    )
    sites = provision_sites(database, actor, args.sites, prefix="fan")
    with database.session() as session:
        script = Script(
            workspace_id=1,
            author_id=actor.user_id,
            description="bench fan-out",
            content=":put bench",
            status=ScriptStatus.UNAUTHORIZED,
        )
        session.add(script)
        session.flush()
        script_id = script.id

    with (
        tempfile.TemporaryDirectory() as scratch,
        child_server("endpoint", database.url) as endpoint,
    ):
        workers = []
        for number in range(args.fleet_processes):
            share = Path(scratch) / f"fleet-{number}.json"
            share.write_text(
                json.dumps(
                    [(s.name, s.token) for s in sites[number :: args.fleet_processes]]
                ),
                encoding="utf-8",
            )
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--fleet",
                        str(share),
                        "--server",
                        f"http://127.0.0.1:{endpoint.port}",
                        "--interval",
                        str(args.interval),
                        "--seed",
                        str(number),
                        "--fleet-connections",
                        str(args.fleet_connections),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                    cwd=ROOT,
                )
            )
        try:
            for worker in workers:
                assert worker.stdout is not None
                if worker.stdout.readline().strip() != "ready":
                    raise SystemExit("a fleet process did not start")
            # Let every device settle into its polling phase first.
            time.sleep(args.interval)
            began = time.perf_counter()
            run_id = launch(database, script_id, [site.name for site in sites])
            while still_open(database, run_id):
                if time.perf_counter() - began > 5 * args.interval:
                    break
                time.sleep(0.25)
            took = time.perf_counter() - began
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
        shares = [json.loads(worker.communicate(timeout=120)[0]) for worker in workers]

    intervals = took / args.interval
    verdict = "ok" if intervals <= 2 else "MISSED"
    print(
        f"  every outcome final after {took:.1f} s = {intervals:.2f} poll intervals "
        f"(target <= 2: {verdict})"
    )
    total = {key: sum(share[key] for share in shares) for key in shares[0]}
    seconds = max(share["seconds"] for share in shares)
    print(
        f"  fleet: {total['polls']:,.0f} polls ({total['idle']:,.0f} idle), "
        f"{total['jobs']:,.0f} jobs, {total['repeats']:,.0f} repeated, "
        f"{total['results']:,.0f} results, {total['errors']:,.0f} errors; "
        f"the desk answered in {1000 * total['answering'] / total['requests']:.1f} ms "
        f"on average, requests queued in the fleet for "
        f"{1000 * total['waiting'] / total['requests']:.1f} ms"
    )
    # A fleet that cannot keep its own pace would make the desk look slower.
    print(
        f"  the fleet polled {total['polls'] / seconds:,.0f}/s of the "
        f"{args.sites / args.interval:,.0f}/s its interval asks for"
    )


def load_worker(tokens_path: str, port: int, rate: float, seconds: float) -> None:
    """Child process: polls at a fixed rate against a port, then its figures."""
    tokens = json.loads(Path(tokens_path).read_text(encoding="utf-8"))
    load = run_load(lambda: _open_loop(port, tokens, 16, seconds, rate))
    print(json.dumps({"rate": load.rate, "p99": load.quantile(0.99)}), flush=True)


async def _key_to_screen(app: object, rounds: int) -> list[float]:
    """Seconds from a section key to the section on screen, alternating two."""
    from textual import events

    from sdx_tui.app import DeskApp

    assert isinstance(app, DeskApp)
    times: list[float] = []
    for number in range(rounds):
        key, mode = ("f3", "sites") if number % 2 == 0 else ("f2", "scripts")
        began = time.perf_counter()
        app.post_message(events.Key(key, None))
        while app.current_mode != mode or not app.screen.is_mounted:
            if time.perf_counter() - began > 60:
                raise SystemExit(f"the desk did not show {mode} within a minute")
            await asyncio.sleep(0.001)
        # Paint the frame now rather than at the screen's next timer tick.
        app.screen._on_timer_update()
        times.append(time.perf_counter() - began)
        await asyncio.sleep(0.05)
    return times


def tui_under_load(
    args: argparse.Namespace, database: Database, tokens: list[str]
) -> None:
    from sdx_tui.app import create_app
    from sdx_tui.backend.runtime import DeskRuntime

    print(
        f"\nthe desk's screens while its embedded endpoint serves "
        f"{args.tui_rate:,.0f} polls/s (key press to section on screen)"
    )
    settings = bench_settings(Path(tempfile.mkdtemp()))
    runtime = DeskRuntime(settings, database, host="127.0.0.1", port=0)
    app = create_app(settings, database=database, runtime=runtime, os_user="bench")

    stalls: list[float] = []

    async def watch_the_loop() -> None:
        # The endpoint answers only when the UI lets the shared loop run.
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            stalls.append(now - last - 0.01)
            last = now

    async def measure() -> tuple[list[float], list[float], dict[str, float]]:
        watcher = asyncio.create_task(watch_the_loop())
        async with app.run_test(size=(120, 40)):
            while runtime.port is None or app.current_mode != "scripts":
                await asyncio.sleep(0.01)
            quiet = await _key_to_screen(app, args.tui_keys)
            with tempfile.TemporaryDirectory() as scratch:
                share = Path(scratch) / "tokens.json"
                share.write_text(json.dumps(tokens[:1000]), encoding="utf-8")
                seconds = 5.0 + args.tui_keys * 0.1
                loader = await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--load",
                    str(share),
                    "--port",
                    str(runtime.port),
                    "--rate",
                    str(args.tui_rate),
                    "--seconds",
                    str(seconds),
                    stdout=asyncio.subprocess.PIPE,
                    cwd=ROOT,
                )
                await asyncio.sleep(2.0)  # let the load reach its rate
                loaded = await _key_to_screen(app, args.tui_keys)
                out, _ = await loader.communicate()
        watcher.cancel()
        return quiet, loaded, json.loads(out)

    quiet, loaded, load = asyncio.run(measure())
    for label, times in (("no load", quiet), ("under load", loaded)):
        ordered = sorted(times)
        print(
            f"  {label:<11} p50 {1000 * statistics.median(ordered):6.1f} ms  "
            f"p95 {1000 * ordered[int(0.95 * (len(ordered) - 1))]:6.1f} ms"
        )
    ratio = statistics.median(loaded) / statistics.median(quiet)
    print(
        f"  the endpoint served {load['rate']:,.0f} polls/s meanwhile "
        f"(p99 {load['p99']:.1f} ms); key to screen under load / no load: {ratio:.2f}"
    )
    print(f"  longest stall of the shared event loop: {1000 * max(stalls):.0f} ms")


def launch(database: Database, script_id: int, names: list[str]) -> int:
    with database.session() as session:
        site_ids = list(session.scalars(select(Site.id).where(Site.name.in_(names))))
        lifecycle.transition_script(session, script_id, ScriptStatus.SCHEDULED)
        lifecycle.transition_script(session, script_id, ScriptStatus.LAUNCHED)
        return create_run(
            session,
            script_id=script_id,
            kind=RunKind.LAUNCH,
            site_ids=site_ids,
            occurrence_at=utcnow(),
            deadline=timedelta(hours=1),
        )


def still_open(database: Database, run_id: int) -> int:
    with database.reading() as session:
        return (
            session.scalar(
                select(func.count(Outcome.id)).where(
                    Outcome.run_id == run_id,
                    Outcome.status.in_(
                        [OutcomeStatus.PENDING, OutcomeStatus.DELIVERED]
                    ),
                )
            )
            or 0
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=["bare", "endpoint"], help=argparse.SUPPRESS)
    parser.add_argument("--database", help="SQLAlchemy URL (default: SQLite in /tmp)")
    parser.add_argument("--db-sites", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=1_000.0)
    parser.add_argument("--sites", type=int, default=500, help="fan-out sites")
    parser.add_argument("--interval", type=float, default=10.0, help="fan-out poll s")
    parser.add_argument("--fleet-processes", type=int, default=2)
    parser.add_argument("--fleet-connections", type=int, default=16)
    parser.add_argument("--fleet", help=argparse.SUPPRESS)
    parser.add_argument("--server", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--tui-rate", type=float, default=500.0)
    parser.add_argument("--tui-keys", type=int, default=40)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--skip-tui", action="store_true")
    parser.add_argument("--skip-fanout", action="store_true")
    args = parser.parse_args()

    if args.serve:
        serve(args.serve, args.database)
        return
    if args.load:
        load_worker(args.load, args.port, args.rate, args.seconds)
        return
    if args.fleet:
        fleet_worker(
            args.fleet, args.server, args.interval, args.seed, args.fleet_connections
        )
        return

    with tempfile.TemporaryDirectory() as scratch:
        url = args.database or f"sqlite:///{Path(scratch) / 'bench.db'}"
        database = Database.open(url)
        database.upgrade()
        actor = initialise(database, admin="bench")
        tokens = fill_sites(database, actor, args.db_sites)
        print(f"database: {database.engine.dialect.name}, {args.db_sites:,} sites")
        if not args.skip_idle:
            idle(args, url, tokens)
        if not args.skip_tui:
            tui_under_load(args, database, tokens)
        if not args.skip_fanout:
            fanout(args, database, actor)
        database.dispose()


if __name__ == "__main__":
    main()
