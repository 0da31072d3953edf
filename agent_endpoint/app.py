"""The Starlette application devices talk to (DESIGN.md section 4).

``GET /agent/v1/poll`` answers ``204`` from memory when the site has nothing
open, and ``200 text/plain`` with a RouterOS job wrapper otherwise;
``POST /agent/v1/result/{delivery}`` records a result; ``GET /healthz`` is for
load balancers. Devices authenticate with their site's bearer token.

Bad requests get a clear status and one log line per source and kind (never the
token): ``401`` unknown or missing token, ``404`` a delivery that is not the
site's own (whether it exists elsewhere is not revealed), ``413`` a body over
``settings.endpoint.max_body_bytes``, ``400`` a malformed result, ``429`` with
``Retry-After`` past ``settings.endpoint.rate_per_minute``. Polls and results
have separate allowances, so a flood of polls never costs a device its result.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import anyio
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from agent_endpoint.approval_pages import approval_routes
from agent_endpoint.batching import Batcher
from agent_endpoint.fleet import FleetCache
from agent_endpoint.limits import QuietLog, RateLimiter, retry_after
from sdx_tui.backend import delivery
from sdx_tui.backend.db import Database, utcnow
from sdx_tui.backend.errors import InvalidInput, NotFound
from sdx_tui.backend.routeros.render import (
    BackupTarget,
    render_backup_prelude,
    render_job_wrapper,
)
from sdx_tui.backend.sites import hash_token
from sdx_tui.config import Settings

log = logging.getLogger(__name__)

_T = TypeVar("_T")

Clock = Callable[[], datetime]
"""Returns the current time, aware, in UTC."""

_DELIVERY_ID = re.compile(r"^[0-9a-f]{32}$")
_NO_WORK = Response(status_code=204)
_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="sdx"'}


@dataclass(frozen=True)
class EndpointTiming:
    """How often each backend re-reads and writes the database in the background."""

    refresh_seconds: float = 1.0
    """Re-read which sites have open work."""
    flush_seconds: float = 5.0
    """Write the poll times gathered since the last flush."""
    sweep_seconds: float = 5.0
    """Time out or expire outcomes past their deadline."""
    token_reload_seconds: float = 30.0
    """Re-read every site token (new and rotated ones are also looked up at once)."""
    seen_precision_seconds: float = 60.0
    """A site's stored last-seen time is written again once it is this stale."""
    unknown_lookups_per_minute: float = 1_200.0
    """Database lookups allowed for tokens this backend has not seen."""


class _Undeliverable(Exception):
    """A job that cannot be rendered into a wrapper a device can run."""

    def __init__(self, outcome_id: int, reason: str) -> None:
        super().__init__(reason)
        self.outcome_id = outcome_id
        self.reason = reason


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        return None
    return token


class DeviceEndpoint:
    """The device API: its handlers, its in-memory fleet, and its upkeep."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        clock: Clock = utcnow,
        timing: EndpointTiming | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.clock = clock
        self.timing = timing or EndpointTiming()
        self.fleet = FleetCache(
            database,
            token_reload_seconds=self.timing.token_reload_seconds,
            seen_precision_seconds=self.timing.seen_precision_seconds,
        )
        per_minute = settings.endpoint.rate_per_minute
        self._poll_limit = RateLimiter(per_minute)
        self._result_limit = RateLimiter(per_minute)
        self._lookup_limit = RateLimiter(self.timing.unknown_lookups_per_minute)
        self._quiet = QuietLog(log)
        self._base_url = settings.endpoint.base_url()
        self._max_body = settings.endpoint.max_body_bytes
        # SQLite lets one writer in at a time and makes the others sleep and
        # retry, with waits that grow to 100 ms: queueing this process's
        # database work on one thread keeps that back-off out of the hand-out
        # path. PostgreSQL locks rows, so there the work runs side by side.
        self._database_threads = anyio.CapacityLimiter(1 if database.is_sqlite else 16)
        self._hand_outs: Batcher[
            tuple[delivery.PollRequest, str], tuple[str, str] | None
        ] = Batcher(self._hand_out_batch, self._in_thread)
        self._results: Batcher[delivery.ResultRequest, delivery.ResultReceipt] = (
            Batcher(self._record_batch, self._in_thread)
        )
        self._upkeep: asyncio.Task[None] | None = None
        self.started = asyncio.Event()
        """Set once the first refresh ran and the upkeep loop is going."""

    async def _in_thread(self, work: Callable[..., _T], *args: object) -> _T:
        """Run blocking database work in a worker thread."""
        return await anyio.to_thread.run_sync(
            functools.partial(work, *args), limiter=self._database_threads
        )

    # -- requests -----------------------------------------------------------

    async def _site(
        self, request: Request, what: str
    ) -> tuple[int, str, str] | Response:
        """The site, token and token hash of a request, or the refusal to send."""
        token = _bearer(request.headers.get("authorization"))
        if token is None:
            self._refuse(request, "401", "%s refused: missing or malformed token", what)
            return PlainTextResponse(
                "missing bearer token\n", 401, headers=_UNAUTHORIZED_HEADERS
            )
        token_hash = hash_token(token)
        site_id = self.fleet.site_for(token_hash)
        if site_id is None and not self.fleet.known_unknown(token_hash):
            looked_up = await self._look_up(token_hash)
            if isinstance(looked_up, Response):
                return looked_up
            site_id = looked_up
        if site_id is None:
            self._refuse(request, "401", "%s refused: unknown token", what)
            return PlainTextResponse(
                "unknown token\n", 401, headers=_UNAUTHORIZED_HEADERS
            )
        return site_id, token, token_hash

    async def _look_up(self, token_hash: str) -> int | Response | None:
        if self._lookup_limit.acquire("lookups", time.monotonic()):
            return None
        try:
            return await self._in_thread(self.fleet.lookup, token_hash)
        except SQLAlchemyError as error:
            return self._unavailable("token lookup", error)

    def _refuse(self, request: Request, kind: str, message: str, *args: object) -> None:
        client = request.client.host if request.client else "?"
        self._quiet.warning(
            (kind, client), time.monotonic(), message + " (from %s)", *args, client
        )

    def _unavailable(self, what: str, error: Exception) -> Response:
        self._quiet.warning(
            ("503", what), time.monotonic(), "%s failed: %s", what, type(error).__name__
        )
        return PlainTextResponse(
            "the desk's database is unavailable\n", 503, headers={"Retry-After": "5"}
        )

    def _over_limit(
        self, limiter: RateLimiter, site_id: int, now: datetime, what: str
    ) -> Response | None:
        wait = limiter.acquire(site_id, now.timestamp())
        if not wait:
            return None
        self._quiet.warning(
            ("429", what, site_id),
            time.monotonic(),
            "site %s is over %d requests a minute (%s); answering 429",
            site_id,
            self.settings.endpoint.rate_per_minute,
            what,
        )
        return PlainTextResponse(
            "too many requests\n", 429, headers={"Retry-After": retry_after(wait)}
        )

    def answered_idle(self, authorization: str | None) -> bool:
        """Whether a poll is the common case, a known site with nothing open
        and within its allowance; if so it is counted and needs only a ``204``.

        Anything else (no or unknown token, open work, over the limit) goes
        through :meth:`poll`, which answers and logs it properly.
        """
        token = _bearer(authorization)
        if token is None:
            return False
        site_id = self.fleet.site_for(hash_token(token))
        if site_id is None or self.fleet.has_open_work(site_id):
            return False
        now = self.clock()
        if self._poll_limit.acquire(site_id, now.timestamp()):
            return False
        self.fleet.saw(site_id, now)
        return True

    async def poll(self, request: Request) -> Response:
        """``GET /agent/v1/poll``: the site's next job, or ``204``."""
        found = await self._site(request, "poll")
        if isinstance(found, Response):
            return found
        site_id, token, token_hash = found
        now = self.clock()
        refused = self._over_limit(self._poll_limit, site_id, now, "polls")
        if refused is not None:
            return refused
        self.fleet.saw(site_id, now)
        if not self.fleet.has_open_work(site_id):
            return _NO_WORK

        try:
            job = await self._hand_outs.submit(
                (delivery.PollRequest(site_id, token_hash), token)
            )
        except delivery.TokenRejected:
            self.fleet.forget_token(token_hash)
            self._refuse(request, "401", "poll refused: token no longer valid")
            return PlainTextResponse(
                "unknown token\n", 401, headers=_UNAUTHORIZED_HEADERS
            )
        except SQLAlchemyError as error:
            return self._unavailable("hand-out", error)
        if job is None:
            self.fleet.mark_idle(site_id)
            return _NO_WORK
        delivery_id, wrapper = job
        return PlainTextResponse(wrapper, headers={"X-SDX-Delivery": delivery_id})

    def _hand_out_batch(
        self, polls: list[tuple[delivery.PollRequest, str]]
    ) -> list[tuple[str, str] | delivery.TokenRejected | None]:
        """Hand out the jobs of many polls in one transaction (blocking)."""
        now = self.clock()
        answers: list[tuple[str, str] | delivery.TokenRejected | None] = []
        with self.database.session() as session:
            jobs = delivery.hand_out_many(session, [poll for poll, _ in polls], now=now)
            for (_, token), job in zip(polls, jobs, strict=True):
                if not isinstance(job, delivery.Delivery):
                    answers.append(job)
                    continue
                try:
                    answers.append((job.delivery_id, self._wrapper(job, token)))
                except _Undeliverable as failure:
                    delivery.fail_undeliverable(
                        session,
                        outcome_id=failure.outcome_id,
                        reason=failure.reason,
                        now=now,
                    )
                    answers.append(None)
        return answers

    def _wrapper(self, job: delivery.Delivery, token: str) -> str:
        try:
            prelude = None
            if job.make_backup:
                prelude = render_backup_prelude(
                    job_name=job.delivery_id,
                    sftp=BackupTarget.from_settings(self.settings.backup),
                )
            return render_job_wrapper(
                delivery_id=job.delivery_id,
                body=job.body,
                base_url=self._base_url,
                token=token,
                routeros_major=job.wrapper_major,
                backup_prelude=prelude,
            )
        except InvalidInput as problem:
            raise _Undeliverable(job.outcome_id, str(problem)) from None

    async def result(self, request: Request) -> Response:
        """``POST /agent/v1/result/{delivery}``: record what the device reported."""
        found = await self._site(request, "result")
        if isinstance(found, Response):
            return found
        site_id, _token, token_hash = found
        now = self.clock()
        refused = self._over_limit(self._result_limit, site_id, now, "results")
        if refused is not None:
            return refused

        delivery_id = request.path_params["delivery"]
        if not _DELIVERY_ID.match(delivery_id):
            return self._no_such_delivery(request, site_id)
        body = await self._body(request, site_id)
        if isinstance(body, Response):
            return body
        try:
            result = delivery.parse_result(body)
        except InvalidInput as error:
            self._refuse(
                request, "400", "result from site %s refused: %s", site_id, error
            )
            return PlainTextResponse(f"{error}\n", 400)

        try:
            receipt = await self._results.submit(
                delivery.ResultRequest(site_id, token_hash, delivery_id, result)
            )
        except NotFound:
            return self._no_such_delivery(request, site_id)
        except delivery.TokenRejected:
            self.fleet.forget_token(token_hash)
            self._refuse(request, "401", "result refused: token no longer valid")
            return PlainTextResponse(
                "unknown token\n", 401, headers=_UNAUTHORIZED_HEADERS
            )
        except SQLAlchemyError as error:
            return self._unavailable("result", error)
        return JSONResponse(
            {
                "delivery": delivery_id,
                "status": receipt.status.value,
                "recorded": receipt.applied,
                "duplicate": receipt.duplicate,
                "truncated": receipt.truncated,
            }
        )

    def _record_batch(
        self, results: list[delivery.ResultRequest]
    ) -> list[delivery.ResultReceipt | NotFound | delivery.TokenRejected]:
        """Record many results in one transaction (blocking)."""
        with self.database.session() as session:
            return delivery.record_results(session, results, now=self.clock())

    def _no_such_delivery(self, request: Request, site_id: int) -> Response:
        self._refuse(
            request, "404", "result from site %s refused: no such delivery", site_id
        )
        return PlainTextResponse("no such delivery\n", 404)

    async def _body(self, request: Request, site_id: int) -> bytes | Response:
        """The request body, or a refusal once it exceeds the limit."""
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                self._refuse(request, "400", "result refused: bad Content-Length")
                return PlainTextResponse("bad Content-Length\n", 400)
            if int(declared) > self._max_body:
                return self._too_large(request, site_id)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self._max_body:
                    return self._too_large(request, site_id)
                chunks.append(chunk)
        except ClientDisconnect:
            return Response(status_code=400)
        return b"".join(chunks)

    def _too_large(self, request: Request, site_id: int) -> Response:
        self._refuse(
            request,
            "413",
            "result from site %s refused: body over %d bytes",
            site_id,
            self._max_body,
        )
        return PlainTextResponse(
            f"the body is larger than {self._max_body} bytes\n", 413
        )

    async def healthz(self, request: Request) -> Response:
        """``GET /healthz``: 200 while the database answered recently, else 503."""
        refreshed = self.fleet.refreshed_at
        age = None if refreshed is None else time.monotonic() - refreshed
        healthy = age is not None and age < max(30.0, 10 * self.timing.refresh_seconds)
        return JSONResponse(
            {
                "status": "ok" if healthy else "degraded",
                "sites": self.fleet.site_count,
                "sites_with_work": self.fleet.open_count,
            },
            status_code=200 if healthy else 503,
        )

    # -- upkeep ---------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read every token and the open work from the database (blocking)."""
        self.fleet.refresh(reload_tokens=True)

    def flush_last_seen(self) -> int:
        """Write every poll time gathered so far (blocking); returns how many."""
        seen = self.fleet.take_seen()
        try:
            return self.fleet.flush_seen(seen, everything=True)
        except BaseException:
            self.fleet.give_back_seen(seen)
            raise

    async def _flush_seen(self, *, everything: bool) -> None:
        # Taken on the event loop, which is the only writer of the poll times,
        # so the worker thread gets a dictionary nobody changes any more.
        seen = self.fleet.take_seen()
        if not seen:
            return
        try:
            await self._in_thread(
                functools.partial(self.fleet.flush_seen, seen, everything=everything)
            )
        except Exception as error:
            self.fleet.give_back_seen(seen)
            self._quiet.warning(
                ("upkeep", "last-seen flush"),
                time.monotonic(),
                "last-seen flush failed: %s",
                error,
            )

    def sweep(self) -> delivery.SweepReport:
        """Time out and expire outcomes past their deadline (blocking)."""
        with self.database.session() as session:
            return delivery.sweep_deadlines(session, now=self.clock())

    async def _run_upkeep(self) -> None:
        timing = self.timing
        last_flush = last_sweep = time.monotonic()
        while True:
            await asyncio.sleep(timing.refresh_seconds)
            now = time.monotonic()
            await self._guarded("refresh", self.fleet.refresh)
            if now - last_flush >= timing.flush_seconds:
                last_flush = now
                await self._flush_seen(everything=False)
            if now - last_sweep >= timing.sweep_seconds:
                last_sweep = now
                await self._guarded("deadline sweep", self.sweep)

    async def _guarded(self, what: str, work: Callable[[], object]) -> None:
        # The upkeep must outlive a database outage, so a failure is logged
        # (once a minute at most) and the next round tries again.
        try:
            await self._in_thread(work)
        except Exception as error:
            self._quiet.warning(
                ("upkeep", what), time.monotonic(), "%s failed: %s", what, error
            )

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        """Start the upkeep with the server, and flush poll times when it stops."""
        await self._guarded("refresh", self.refresh)
        self._upkeep = asyncio.create_task(self._run_upkeep(), name="endpoint-upkeep")
        self.started.set()
        try:
            yield
        finally:
            self._upkeep.cancel()
            await asyncio.gather(self._upkeep, return_exceptions=True)
            await self._flush_seen(everything=True)


class _PollRoute:
    """``GET /agent/v1/poll`` as a bare ASGI application.

    Most polls find nothing to do; those are answered straight from the scope,
    without building a request object, which is most of what an idle poll
    would otherwise cost. The rest take the ordinary path.
    """

    def __init__(self, endpoint: DeviceEndpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        if self.endpoint.answered_idle(authorization):
            await _NO_WORK(scope, receive, send)
            return
        response = await self.endpoint.poll(Request(scope, receive))
        await response(scope, receive, send)


def create_endpoint(
    settings: Settings,
    database: Database,
    *,
    clock: Clock = utcnow,
    timing: EndpointTiming | None = None,
) -> Starlette:
    """The device endpoint (and approval pages) as one Starlette application.

    The :class:`DeviceEndpoint` behind it is ``app.state.endpoint``.
    """
    endpoint = DeviceEndpoint(settings, database, clock=clock, timing=timing)
    routes: list[BaseRoute] = [
        Route("/healthz", endpoint.healthz, methods=["GET"]),
        Route("/agent/v1/poll", _PollRoute(endpoint), methods=["GET"]),
        Route("/agent/v1/result/{delivery}", endpoint.result, methods=["POST"]),
        *approval_routes(settings, database, clock=clock),
    ]
    app = Starlette(routes=routes, lifespan=endpoint.lifespan)
    app.state.endpoint = endpoint
    return app


def endpoint_of(app: Starlette) -> DeviceEndpoint:
    """The :class:`DeviceEndpoint` of an app made by :func:`create_endpoint`."""
    endpoint = app.state.endpoint
    if not isinstance(endpoint, DeviceEndpoint):
        raise TypeError("not an app made by create_endpoint")
    return endpoint
