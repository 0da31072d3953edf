"""A RouterOS API peer to push the agent to, and `sdx` run in-process."""

from __future__ import annotations

import io
import ssl
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sdx_tui.cli import main
from tests.peers.routeros_api import RouterOsApiPeer

HERE = Path(__file__).parent
DEVICE_CERT = HERE / "device-cert.pem"
"""A self-signed certificate for 127.0.0.1, valid until 2126."""
DEVICE_KEY = HERE / "device-key.pem"

USER = "noc-admin"
PASSWORD = "Pw-7f3q-not-in-logs"
TOKEN = "tok-1B4dX9-not-in-logs_0123456789abcdefghij"


@pytest.fixture
def device() -> Iterator[RouterOsApiPeer]:
    """A RouterOS 7 device's API service (plain login)."""
    with RouterOsApiPeer(username=USER, password=PASSWORD) as peer:
        yield peer


@pytest.fixture
def tls_device() -> Iterator[RouterOsApiPeer]:
    """An api-ssl service presenting :data:`DEVICE_CERT`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(DEVICE_CERT, DEVICE_KEY)
    with RouterOsApiPeer(username=USER, password=PASSWORD, ssl_context=context) as peer:
        yield peer


@dataclass(frozen=True)
class Result:
    """What one `sdx` command did."""

    code: int
    out: str
    err: str


Sdx = Callable[..., Result]


class _Stdin(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__("")
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.fixture
def sdx(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Sdx:
    """Run `sdx` as the OS user "ada", the desk's first user and so its admin.

    ``terminal=True`` makes standard input look like a terminal.
    """
    monkeypatch.setenv("LOGNAME", "ada")

    def run(*argv: str, terminal: bool = False) -> Result:
        monkeypatch.setattr(sys, "stdin", _Stdin(terminal))
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
