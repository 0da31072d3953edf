"""A small HTTP server speaking the WhatsApp Business Cloud API's send call.

It checks the bearer token and the payload as the real API does and answers
with the same shapes. Like the SMTP peer, it reserves its port at once and
starts down (bound, not listening) until :meth:`up`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PHONE_NUMBER_ID = "106540352242922"
ACCESS_TOKEN = "EAAtest-access-token"
_PATH = re.compile(r"^/v21\.0/(?P<phone>[0-9]+)/messages$")


class WhatsAppPeer:
    """A fake-free Cloud API endpoint: real HTTP, real checks, recorded messages."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.refused: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, message: str, code: int) -> None:
                with peer._lock:
                    peer.refused.append((status, message))
                self._answer(
                    status,
                    {
                        "error": {
                            "message": message,
                            "type": "OAuthException",
                            "code": code,
                        }
                    },
                )

            def do_POST(self) -> None:
                match = _PATH.match(self.path)
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if self.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
                    self._error(401, "Invalid OAuth access token.", 190)
                    return
                if match is None or match["phone"] != PHONE_NUMBER_ID:
                    self._error(400, "Unsupported post request.", 100)
                    return
                try:
                    payload = json.loads(raw)
                except ValueError:
                    self._error(400, "Invalid JSON.", 100)
                    return
                problem = _payload_problem(payload)
                if problem:
                    self._error(400, problem, 100)
                    return
                with peer._lock:
                    peer.received.append(payload)
                    number = len(peer.received)
                self._answer(
                    200,
                    {
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": payload["to"], "wa_id": payload["to"]}],
                        "messages": [{"id": f"wamid.test{number}"}],
                    },
                )

        self._server = ThreadingHTTPServer(
            ("127.0.0.1", 0), Handler, bind_and_activate=False
        )
        self._server.daemon_threads = True
        self._server.allow_reuse_address = True
        self._server.server_bind()
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v21.0"

    def up(self) -> None:
        """Start listening and serving."""
        self._server.server_activate()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="whatsapp-peer", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and free the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=30)
        self._server.server_close()

    def texts(self) -> list[str]:
        with self._lock:
            return [payload["text"]["body"] for payload in self.received]


def _payload_problem(payload: Any) -> str:
    if not isinstance(payload, dict):
        return "The request body must be an object."
    if payload.get("messaging_product") != "whatsapp":
        return "Param messaging_product must be 'whatsapp'."
    if payload.get("type") != "text":
        return "This peer only takes text messages."
    to = payload.get("to")
    if not isinstance(to, str) or not to.isdigit():
        return "Param to must be a phone number in digits."
    text = payload.get("text")
    if not isinstance(text, dict) or not isinstance(text.get("body"), str):
        return "Param text['body'] is required."
    if not text["body"] or len(text["body"]) > 4096:
        return "Param text['body'] must be 1 to 4096 characters."
    return ""


@contextmanager
def whatsapp_peer(*, up: bool = True) -> Iterator[WhatsAppPeer]:
    """A WhatsApp Cloud API peer for the length of a block."""
    peer = WhatsAppPeer()
    try:
        if up:
            peer.up()
        yield peer
    finally:
        peer.close()
