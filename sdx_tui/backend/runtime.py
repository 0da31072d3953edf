"""The desk's background work, running inside an existing asyncio event loop.

:class:`DeskRuntime` serves the device endpoint with uvicorn as a task of the
running loop (the TUI's, or the one ``sdx serve`` makes) and starts the other
services the desk needs, each an object with ``async start()`` and
``async stop()``. Nothing here installs signal handlers: the program that owns
the loop owns the signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator, Sequence
from typing import Protocol

import uvicorn

from agent_endpoint.app import Clock, EndpointTiming, create_endpoint, endpoint_of
from sdx_tui.backend.db import Database, utcnow
from sdx_tui.backend.errors import DeskError
from sdx_tui.config import Settings

log = logging.getLogger(__name__)


class Service(Protocol):
    """Background work the runtime starts and stops with the desk."""

    async def start(self) -> None:
        """Begin; return once running."""

    async def stop(self) -> None:
        """End cleanly; return once stopped."""


class EndpointError(DeskError):
    """The endpoint could not start (address in use, unreadable certificate...)."""

    exit_code = 1


class _EmbeddedServer(uvicorn.Server):
    # uvicorn.Server.capture_signals replaces the SIGINT and SIGTERM handlers
    # while it serves from the main thread; embedded, those belong to the TUI or
    # to `sdx serve`, which stop the runtime themselves.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listen(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise EndpointError(f"cannot listen on {host}:{port}: {error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        raise EndpointError(f"cannot listen on {host}:{port}: {error}") from None
    return sock


class DeskRuntime:
    """The embedded endpoint and the desk's services, started and stopped together.

    ``serve_endpoint=False`` runs only the services (a desk whose devices poll
    a separate ``sdx serve``). ``host`` and ``port`` override the settings; port
    0 picks a free port, readable from :attr:`port` once started.
    """

    def __init__(
        self,
        settings: Settings,
        database: Database,
        services: Sequence[Service] = (),
        *,
        serve_endpoint: bool = True,
        host: str | None = None,
        port: int | None = None,
        clock: Clock = utcnow,
        timing: EndpointTiming | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.services = list(services)
        self.serve_endpoint = serve_endpoint
        self._host = host if host is not None else settings.endpoint.host
        self._port = port if port is not None else settings.endpoint.port
        self._clock = clock
        self._timing = timing
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._started: list[Service] = []
        self.port: int | None = None
        """The TCP port the endpoint listens on, once started."""
        self.base_url: str = ""
        """The URL devices are told to use, once started."""

    @property
    def running(self) -> bool:
        """Whether the endpoint task is serving."""
        return self._serving is not None and not self._serving.done()

    async def start(self) -> None:
        """Serve the endpoint, then start each service; undo all on failure."""
        try:
            if self.serve_endpoint:
                await self._start_endpoint()
            for service in self.services:
                await service.start()
                self._started.append(service)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the services (last started first), then the endpoint."""
        while self._started:
            service = self._started.pop()
            try:
                await service.stop()
            except Exception:
                log.exception("%s did not stop cleanly", type(service).__name__)
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await asyncio.gather(self._serving, return_exceptions=True)
            log.info("endpoint stopped")
        self._server = self._serving = None

    async def _start_endpoint(self) -> None:
        endpoint_settings = self.settings.endpoint
        tls = bool(endpoint_settings.tls_cert or endpoint_settings.tls_key)
        if tls and not (endpoint_settings.tls_cert and endpoint_settings.tls_key):
            raise EndpointError("HTTPS needs both a certificate and its key")

        sock = _listen(self._host, self._port)
        self.port = sock.getsockname()[1]
        settings = self.settings.with_section(
            "endpoint", host=self._host, port=self.port
        )
        self.base_url = settings.endpoint.base_url()
        app = create_endpoint(
            settings, self.database, clock=self._clock, timing=self._timing
        )
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="on",
            server_header=False,
            timeout_graceful_shutdown=5,
            ssl_certfile=endpoint_settings.tls_cert or None,
            ssl_keyfile=endpoint_settings.tls_key or None,
        )
        self._server = _EmbeddedServer(config)
        self._serving = asyncio.create_task(
            self._serve(self._server, sock), name="desk-endpoint"
        )

        ready = asyncio.create_task(endpoint_of(app).started.wait())
        await asyncio.wait({ready, self._serving}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            failure = self._serving.exception()
            self._server = self._serving = None
            raise EndpointError(f"the endpoint did not start: {failure}")
        log.info("endpoint listening on %s", self.base_url)

    @staticmethod
    async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as failure:
            # uvicorn exits the process when its start-up fails; inside the desk
            # that must end only this task.
            raise EndpointError(f"uvicorn stopped with status {failure.code}") from None
        finally:
            sock.close()


def default_services(
    settings: Settings, database: Database, *, send_notifications: bool = True
) -> list[Service]:
    """The services every desk backend runs: the scheduler and the outbox sender.

    A demo desk passes ``send_notifications=False`` so its made-up approvers are
    never mailed through the operator's real SMTP or WhatsApp settings.
    """
    from sdx_tui.backend.notify.service import OutboxSender
    from sdx_tui.backend.scheduling import SchedulerService

    services: list[Service] = [SchedulerService(settings, database)]
    if send_notifications:
        services.append(OutboxSender(settings, database))
    return services
