"""An SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives.

The port is reserved at once, and the server starts down: the socket is bound
but not listening, so a client gets "connection refused" until :meth:`up`.
That keeps the port ours across the down-then-up story without racing anyone
for it.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpPeer:
    """A real SMTP server in a thread of its own, optionally requiring a login."""

    def __init__(self, *, username: str = "", password: str = "") -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.username = username
        self.password = password
        self.inbox = _Inbox()
        self.logins: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self.inbox.lock:
            return list(self.inbox.messages)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.username
            and data.password.decode() == self.password
        )
        if ok:
            self.logins.append(self.username)
        return AuthResult(success=ok, handled=False)

    def _protocol(self) -> SMTP:
        options: dict[str, Any] = {"hostname": "peer.test", "auth_require_tls": False}
        if self.username:
            options["authenticator"] = self._authenticate
        return SMTP(self.inbox, **options)

    def up(self) -> None:
        """Start listening and serving."""
        loop = asyncio.new_event_loop()
        started = threading.Event()

        async def serve() -> None:
            self._server = await loop.create_server(self._protocol, sock=self._socket)
            started.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve())
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="smtp-peer", daemon=True)
        self._thread.start()
        if not started.wait(timeout=30):
            raise RuntimeError("the SMTP peer did not start")

    def close(self) -> None:
        """Stop serving and free the port."""
        if self._loop is not None and self._thread is not None:
            loop = self._loop

            async def shutdown() -> None:
                if self._server is not None:
                    self._server.close()
                    await self._server.wait_closed()
                loop.stop()

            asyncio.run_coroutine_threadsafe(shutdown(), loop)
            self._thread.join(timeout=30)
            loop.close()
            self._loop = None
        self._socket.close()


@contextmanager
def smtp_peer(
    *, up: bool = True, username: str = "", password: str = ""
) -> Iterator[SmtpPeer]:
    """An SMTP peer for the length of a block."""
    peer = SmtpPeer(username=username, password=password)
    try:
        if up:
            peer.up()
        yield peer
    finally:
        peer.close()
