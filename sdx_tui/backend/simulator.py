"""A simulated fleet: many RouterOS agents polling the endpoint over HTTP.

Each simulated device behaves like the agent and the job wrapper: it polls with
its bearer token, runs a job it has not run before, keeps the ids it has run and
answers a repeated delivery with the status it already reported, and posts the
result once. It also flaps: a request may never leave, or its answer may be lost
after the desk handled it, so the desk's re-delivery and idempotency are
exercised as on real unstable links.

A job fails when the device's seeded draw falls under the fail rate, or when
the script holds ``:error``. Every decision is recorded, so a test (or an
operator) can compare what the devices did with what the desk stored. With the
same seed and the same jobs, each device makes the same decisions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import httpx
from sqlalchemy import bindparam, insert, select, update

from sdx_tui.backend import audit
from sdx_tui.backend.db import Database
from sdx_tui.backend.errors import InvalidInput
from sdx_tui.backend.identity import Actor, default_workspace_id, require_role
from sdx_tui.backend.models import Role, Site
from sdx_tui.backend.sites import (
    check_site_name,
    check_version,
    hash_token,
    new_token,
)

log = logging.getLogger(__name__)

SIMULATED_TAG = "simulated"
"""The tag every simulated site carries, to pick them as targets."""

_RESULT_URL = re.compile(r"/agent/v1/result/([A-Za-z0-9_-]{1,64})")
# The backup prelude raises ``:error "sdx-backup: failed: ..."`` itself; only an
# :error of the job counts (the quote is escaped inside a RouterOS 7 wrapper).
_JOB_ERROR = re.compile(r':error(?! \\?"sdx-backup: failed)')
_BACKUP = "sdx-backup: uploaded"
_TIMEOUT = {"connect": 30.0, "read": 30.0, "write": 30.0, "pool": 30.0}


@dataclass(frozen=True)
class SimulatedSite:
    """A site the simulator polls as: its name and bearer token."""

    name: str
    token: str


@dataclass
class Decision:
    """What a device did with one delivery."""

    site: str
    status: str
    """``completed`` or ``failed``."""
    runs: int = 1
    """How many times the job ran; the wrapper's guarantee is exactly once."""


@dataclass
class SimulationStats:
    """Counters of one simulation."""

    polls: int = 0
    idle: int = 0
    jobs: int = 0
    repeats: int = 0
    completed: int = 0
    failed: int = 0
    results: int = 0
    dropped: int = 0
    refused: int = 0
    errors: int = 0
    requests: int = 0
    """Requests sent to the desk, polls and results."""
    waiting: float = 0.0
    """Seconds requests spent queued in the simulator before they were sent."""
    answering: float = 0.0
    """Seconds requests took from sending to the desk's answer."""
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        """One line of progress."""
        elapsed = time.monotonic() - self.started
        return (
            f"{elapsed:7.1f} s: {self.polls:,} polls ({self.idle:,} idle), "
            f"{self.jobs:,} jobs run ({self.completed:,} completed, "
            f"{self.failed:,} failed), {self.repeats:,} repeated deliveries, "
            f"{self.results:,} results posted, {self.dropped:,} dropped, "
            f"{self.refused:,} refused, {self.errors:,} errors; "
            f"{self._mean(self.answering):.1f} ms answer, "
            f"{self._mean(self.waiting):.1f} ms queued here"
        )

    def _mean(self, seconds: float) -> float:
        return 1000 * seconds / self.requests if self.requests else 0.0


def simulated_names(count: int, prefix: str = "sim") -> list[str]:
    """The names of the first ``count`` simulated sites."""
    return [f"{prefix}-{number:05d}" for number in range(1, count + 1)]


def provision_sites(
    database: Database,
    actor: Actor,
    count: int,
    *,
    prefix: str = "sim",
    routeros_version: str = "7.16",
) -> list[SimulatedSite]:
    """Create the simulated sites that do not exist yet, and give every one of
    them a fresh token (existing sites' tokens are rotated: only hashes are kept).

    Two bulk statements whatever the count, and one audit event for each.
    """
    require_role(actor, Role.ADMIN)
    if count < 1:
        raise InvalidInput("simulate at least one device")
    check_site_name(f"{prefix}-00001")
    routeros_version = check_version(routeros_version)
    names = simulated_names(count, prefix)
    tokens = {name: new_token() for name in names}

    with database.session() as session:
        existing: dict[str, int] = {}
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            rows = session.execute(
                select(Site.name, Site.id).where(Site.name.in_(chunk))
            )
            existing.update({name: site_id for name, site_id in rows})
        missing = [name for name in names if name not in existing]
        if missing:
            workspace_id = default_workspace_id(session, actor.organisation_id)
            session.execute(
                insert(Site),
                [
                    {
                        "workspace_id": workspace_id,
                        "name": name,
                        "routeros_version": routeros_version,
                        "time_zone": "UTC",
                        "tags": [SIMULATED_TAG],
                        "address": "",
                        "token_hash": hash_token(tokens[name]),
                    }
                    for name in missing
                ],
            )
            audit.record(
                session,
                actor,
                "simulator.sites_added",
                detail=f"{len(missing)} site(s) named {prefix}-NNNNN",
            )
        if existing:
            session.connection().execute(
                update(Site)
                .where(Site.id == bindparam("site_id"))
                .values(token_hash=bindparam("token_hash")),
                [
                    {"site_id": site_id, "token_hash": hash_token(tokens[name])}
                    for name, site_id in existing.items()
                ],
            )
            audit.record(
                session,
                actor,
                "simulator.tokens_rotated",
                detail=f"{len(existing)} site(s) named {prefix}-NNNNN",
            )
    log.info(
        "simulator: %d site(s) added, %d token(s) rotated", len(missing), len(existing)
    )
    return [SimulatedSite(name, tokens[name]) for name in names]


class SimulatedDevice:
    """One device: its token, the deliveries it ran, its own random draws."""

    def __init__(self, site: SimulatedSite, *, seed: int) -> None:
        self.site = site
        self.ran: dict[str, str] = {}
        """Delivery id -> the status it reported, as the wrapper keeps them."""
        self._links = random.Random(f"{seed}:{site.name}:links")
        self._jobs = random.Random(f"{seed}:{site.name}:jobs")
        self.headers = {"Authorization": f"Bearer {site.token}"}
        """What every request of the device carries."""
        self.post_headers = {**self.headers, "Content-Type": "application/json"}
        """What a result POST carries, as the wrapper sends it."""

    def flaps(self, rate: float) -> str:
        """How the link behaves for one request: ``up``, ``out`` or ``back``.

        ``out``: the request never reaches the desk; ``back``: the desk handles
        it but the answer is lost.
        """
        draw = self._links.random()
        if draw < rate / 2:
            return "out"
        if draw < rate:
            return "back"
        return "up"

    def decide(self, wrapper: str, fail_rate: float) -> str:
        """Run a new job: ``failed`` by the draw or an ``:error`` in the script."""
        draw = self._jobs.random()
        if draw < fail_rate or _JOB_ERROR.search(wrapper):
            return "failed"
        return "completed"


class FleetSimulator:
    """Many :class:`SimulatedDevice` polling one endpoint.

    ``transport`` lets tests talk to an app in-process (httpx's ASGI transport);
    otherwise requests go over the network to ``server``.
    """

    def __init__(
        self,
        sites: Sequence[SimulatedSite],
        *,
        server: str,
        interval: float,
        fail_rate: float = 0.0,
        flap_rate: float = 0.0,
        seed: int = 0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 4,
    ) -> None:
        for name, rate in (("fail rate", fail_rate), ("flap rate", flap_rate)):
            if not 0.0 <= rate <= 1.0:
                raise InvalidInput(f"the {name} must be between 0 and 1")
        if interval <= 0:
            raise InvalidInput("the poll interval must be positive")
        self.devices = [SimulatedDevice(site, seed=seed) for site in sites]
        self.server = server.rstrip("/")
        self.interval = interval
        self.fail_rate = fail_rate
        self.flap_rate = flap_rate
        self.seed = seed
        self.decisions: dict[str, Decision] = {}
        """Delivery id -> what the device did with it."""
        self.stats = SimulationStats()
        self._given_transport = transport
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._transport: httpx.AsyncBaseTransport | None = None
        # httpx's pool does work in proportion to its queue and to the square
        # of its connections each time a connection frees up: a few connections
        # with the devices queued here outside it keep thousands polling cheap.
        self._slots = asyncio.Semaphore(max_connections)

    async def __aenter__(self) -> FleetSimulator:
        self._transport = self._given_transport or httpx.AsyncHTTPTransport(
            limits=self._limits
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._transport is not None and self._given_transport is None:
            await self._transport.aclose()
        self._transport = None

    async def _send(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None = None,
    ) -> httpx.Response:
        """One request straight through the transport.

        A simulated device needs none of what ``httpx.AsyncClient`` adds (cookies,
        redirects, authentication flows), and skipping it lets one process
        simulate a fleet several times larger.
        """
        if self._transport is None:
            raise RuntimeError("use the simulator inside 'async with'")
        request = httpx.Request(
            method,
            self.server + path,
            headers=headers,
            content=body,
            extensions={"timeout": _TIMEOUT},
        )
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    @contextlib.asynccontextmanager
    async def _request_slot(self) -> AsyncIterator[None]:
        """One of the pooled connections, timing the wait for it and its use."""
        queued = time.monotonic()
        async with self._slots:
            sent = time.monotonic()
            self.stats.requests += 1
            self.stats.waiting += sent - queued
            try:
                yield
            finally:
                self.stats.answering += time.monotonic() - sent

    async def tick(self) -> None:
        """Every device polls once (and runs and reports what it got)."""
        await asyncio.gather(*(self.cycle(device) for device in self.devices))

    async def run(
        self,
        *,
        duration: float | None = None,
        stop: asyncio.Event | None = None,
        progress: Callable[[str], None] | None = None,
        progress_every: float = 5.0,
    ) -> SimulationStats:
        """Poll every ``interval`` seconds, each device at its own phase, until
        ``duration`` has passed or ``stop`` is set."""
        stop = stop or asyncio.Event()
        phases = random.Random(f"{self.seed}:phases")
        self.stats = SimulationStats()
        tasks = [
            asyncio.create_task(self._poll_forever(device, phases.random()))
            for device in self.devices
        ]
        reporter = (
            asyncio.create_task(self._report(progress, progress_every))
            if progress
            else None
        )
        try:
            await asyncio.wait_for(stop.wait(), duration)
        except TimeoutError:
            pass
        finally:
            for task in [*tasks, *([reporter] if reporter else [])]:
                task.cancel()
            await asyncio.gather(
                *tasks, *([reporter] if reporter else []), return_exceptions=True
            )
        return self.stats

    async def _poll_forever(self, device: SimulatedDevice, phase: float) -> None:
        await asyncio.sleep(phase * self.interval)
        while True:
            began = time.monotonic()
            await self.cycle(device)
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - began)))

    async def _report(self, progress: Callable[[str], None], every: float) -> None:
        while True:
            await asyncio.sleep(every)
            progress(self.stats.line())

    async def cycle(self, device: SimulatedDevice) -> None:
        """One poll of one device, and what follows from its answer."""
        stats = self.stats
        link = device.flaps(self.flap_rate)
        if link == "out":
            stats.dropped += 1
            return
        try:
            async with self._request_slot():
                stats.polls += 1
                answer = await self._send("GET", "/agent/v1/poll", device.headers)
        except httpx.HTTPError:
            stats.errors += 1
            return
        if link == "back":
            stats.dropped += 1
            return
        if answer.status_code == 204:
            stats.idle += 1
            return
        if answer.status_code != 200:
            self._count_refusal(answer.status_code)
            return

        wrapper = answer.text
        found = _RESULT_URL.search(wrapper)
        if found is None:
            stats.errors += 1
            return
        delivery_id = found.group(1)
        status, output = self._run(device, delivery_id, wrapper)
        await self._post(device, delivery_id, status, output)

    def _run(
        self, device: SimulatedDevice, delivery_id: str, wrapper: str
    ) -> tuple[str, str]:
        stats = self.stats
        if delivery_id in device.ran:
            # The wrapper never runs an id twice; it reports the first status again.
            stats.repeats += 1
            return (
                device.ran[delivery_id],
                "sdx: repeated delivery: this device already ran it",
            )
        status = device.decide(wrapper, self.fail_rate)
        device.ran[delivery_id] = status
        previous = self.decisions.get(delivery_id)
        if previous is None:
            self.decisions[delivery_id] = Decision(device.site.name, status)
        else:
            previous.runs += 1
        stats.jobs += 1
        if status == "completed":
            stats.completed += 1
        else:
            stats.failed += 1

        lines = []
        if _BACKUP in wrapper:
            lines.append(f"{_BACKUP} (simulated)")
        lines.append(f"simulated job {delivery_id} on {device.site.name}")
        if status == "failed":
            lines.append("error: simulated failure")
        return status, "\n".join(lines) + "\n"

    async def _post(
        self, device: SimulatedDevice, delivery_id: str, status: str, output: str
    ) -> None:
        stats = self.stats
        link = device.flaps(self.flap_rate)
        if link == "out":
            stats.dropped += 1
            return
        try:
            async with self._request_slot():
                answer = await self._send(
                    "POST",
                    f"/agent/v1/result/{delivery_id}",
                    device.post_headers,
                    json.dumps({"status": status, "output": output}).encode(),
                )
        except httpx.HTTPError:
            stats.errors += 1
            return
        if link == "back":
            stats.dropped += 1
        elif answer.status_code == 200:
            stats.results += 1
        else:
            self._count_refusal(answer.status_code)

    def _count_refusal(self, status_code: int) -> None:
        if status_code >= 500:
            self.stats.errors += 1
        else:
            self.stats.refused += 1
