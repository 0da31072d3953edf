"""A RouterOS API server on 127.0.0.1 that speaks the real wire protocol.

Words are length-prefixed (one to five bytes, as the protocol specifies), a
sentence ends with an empty word, replies are ``!re``, ``!done``, ``!trap``
(always followed by ``!done``), ``!empty`` (RouterOS 7.18 and later) and
``!fatal`` (a bare reason word, then the connection closes), and every reply
carries the ``.tag`` of its command.

Logins: the plain ``/login =name= =password=`` of RouterOS 6.43 and later, or
with ``legacy_login`` the older challenge (``!done =ret=<hex>``, answered with
``=response=00<md5 of 0x00, password, challenge>``), which ignores a plain
password as old devices did.

It models ``/system/script`` and ``/system/scheduler`` (print, add, set, remove;
``?name=value``, ``?name`` and ``?-name`` queries; ``=.proplist=``; ``=.id=``
lists), shows values as a device does (``interval=300s`` reads back ``5m``,
policies in RouterOS's order, booleans as ``true``/``false``), records every
sentence it receives, and can be told to fail a command: drop the connection,
send ``!fatal``, answer ``!trap``, or never answer.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Literal

Fault = Literal["drop", "fatal", "trap", "hang"]
Fields = dict[str, str]

SCRIPT = "/system/script"
SCHEDULER = "/system/scheduler"

_POLICIES = (
    "ftp",
    "reboot",
    "read",
    "write",
    "policy",
    "test",
    "password",
    "sniff",
    "sensitive",
    "romon",
)
_BOOLEANS = {"yes": "true", "true": "true", "no": "false", "false": "false"}
_PROPERTIES = {
    SCRIPT: {
        "name",
        "owner",
        "policy",
        "dont-require-permissions",
        "comment",
        "source",
    },
    SCHEDULER: {
        "name",
        "start-date",
        "start-time",
        "interval",
        "on-event",
        "policy",
        "comment",
        "disabled",
    },
}
_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_CLOCK = re.compile(r"(?:(\d+)d\s*)?(\d+):(\d\d):(\d\d)")


class ProtocolError(Exception):
    """The client sent bytes that are not RouterOS API words."""


# -- the wire format -----------------------------------------------------------


def encode_length(length: int) -> bytes:
    """The prefix of a word of ``length`` bytes."""
    if length < 0x80:
        return bytes([length])
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x20_0000:
        return (length | 0xC0_0000).to_bytes(3, "big")
    if length < 0x1000_0000:
        return (length | 0xE000_0000).to_bytes(4, "big")
    return b"\xf0" + length.to_bytes(4, "big")


def encode_sentence(words: Iterable[str]) -> bytes:
    """Words as they go on the wire, with the empty word that ends a sentence."""
    out = bytearray()
    for word in words:
        data = word.encode("utf-8", errors="surrogateescape")
        out += encode_length(len(data)) + data
    return bytes(out + b"\x00")


class _Wire:
    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection

    def _exactly(self, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            chunk = self._connection.recv(count - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return bytes(data)

    def _length(self) -> int:
        first = self._exactly(1)[0]
        if first < 0x80:
            return first
        if first < 0xC0:
            return int.from_bytes(bytes([first & 0x3F]) + self._exactly(1), "big")
        if first < 0xE0:
            return int.from_bytes(bytes([first & 0x1F]) + self._exactly(2), "big")
        if first < 0xF0:
            return int.from_bytes(bytes([first & 0x0F]) + self._exactly(3), "big")
        if first == 0xF0:
            return int.from_bytes(self._exactly(4), "big")
        raise ProtocolError(f"control byte {first:#x}")

    def read_sentence(self) -> list[str]:
        words = []
        while length := self._length():
            words.append(self._exactly(length).decode("utf-8", "surrogateescape"))
        return words

    def write(self, sentences: Iterable[list[str]]) -> None:
        self._connection.sendall(b"".join(map(encode_sentence, sentences)))


# -- what a device shows -------------------------------------------------------


def seconds(duration: str) -> int:
    """Seconds in a RouterOS duration: ``90``, ``1m30s``, ``1d 00:01:30``."""
    text = duration.strip()
    if text.isdigit():
        return int(text)
    clock = _CLOCK.fullmatch(text)
    if clock:
        days, hours, minutes, secs = (int(part or 0) for part in clock.groups())
        return ((days * 24 + hours) * 60 + minutes) * 60 + secs
    match = _DURATION.fullmatch(text)
    if not text or not match:
        raise ValueError(f"invalid time value {duration!r}")
    weeks, days, hours, minutes, secs = (int(part or 0) for part in match.groups())
    return (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + secs


def show_duration(total: int) -> str:
    """A duration as RouterOS 7 prints it: ``5m``, ``1h30m``, ``0s``."""
    parts = []
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    if total or not parts:
        parts.append(f"{total}s")
    return "".join(parts)


class _Trap(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _normalise(key: str, value: str) -> str:
    if key == "policy":
        given = {part for part in value.split(",") if part}
        unknown = given - set(_POLICIES)
        if unknown:
            raise _Trap(f"invalid value for argument policy: {sorted(unknown)[0]}")
        return ",".join(policy for policy in _POLICIES if policy in given)
    if key == "interval":
        try:
            return show_duration(seconds(value))
        except ValueError as error:
            raise _Trap(str(error)) from None
    if key in ("disabled", "dont-require-permissions"):
        if value not in _BOOLEANS:
            raise _Trap(f"invalid value for argument {key}: {value}")
        return _BOOLEANS[value]
    return value


@dataclass
class _Menu:
    path: str
    defaults: Fields
    rows: dict[str, Fields]
    next_id: int = 1


# -- the server ----------------------------------------------------------------


@dataclass
class _Session:
    user: str | None = None
    challenge: bytes | None = None


class RouterOsApiPeer:
    """A RouterOS API service in a thread of its own, on 127.0.0.1, port 0."""

    def __init__(
        self,
        *,
        username: str = "admin",
        password: str = "",
        legacy_login: bool = False,
        empty_replies: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self.legacy_login = legacy_login
        self.empty_replies = empty_replies
        """Answer a print that finds nothing with ``!empty`` (RouterOS 7.18+)."""
        self.ssl_context = ssl_context
        self.on_store: Callable[[str, Fields], Fields] | None = None
        """Changes what an add or set stores, as a device that alters values."""
        self.received: list[list[str]] = []
        self.logins: list[str] = []
        self.failed_logins: list[str] = []
        self._faults: dict[str, tuple[Fault, str]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._menus = {
            SCRIPT: _Menu(
                SCRIPT,
                {
                    "policy": ",".join(_POLICIES),
                    "dont-require-permissions": "false",
                    "run-count": "0",
                    "invalid": "false",
                    "source": "",
                },
                {},
            ),
            SCHEDULER: _Menu(
                SCHEDULER,
                {
                    "start-date": "2025-01-01",
                    "start-time": "00:00:00",
                    "interval": "0s",
                    "on-event": "",
                    "policy": ",".join(_POLICIES),
                    "run-count": "0",
                    "disabled": "false",
                },
                {},
            ),
        }
        self._server = _Server(self)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"routeros-api-peer-{self.port}",
            daemon=True,
        )

    # -- running --------------------------------------------------------------

    def start(self) -> RouterOsApiPeer:
        """Start serving; returns the peer."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and end every open connection."""
        self._stopping.set()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RouterOsApiPeer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- what tests set and read ----------------------------------------------

    def fail(self, command: str, how: Fault, message: str = "") -> None:
        """Fail every later ``command`` (``/login``, ``/system/script/add``...)."""
        with self._lock:
            self._faults[command] = (how, message or "failure: refused by the test")

    def heal(self) -> None:
        """Answer every command normally again."""
        with self._lock:
            self._faults.clear()

    def commands(self) -> list[str]:
        """The command word of every sentence received, in order."""
        with self._lock:
            return [sentence[0] for sentence in self.received]

    def entries(self, menu: str) -> list[Fields]:
        """The rows of ``menu`` as a print shows them, ``.id`` included."""
        with self._lock:
            return [self._shown(self._menus[menu], ident) for ident in self._rows(menu)]

    def add_entry(self, menu: str, **fields: str) -> str:
        """Put a row in ``menu`` as if someone had added it; returns its ``.id``.

        ``on_event="..."`` stands for the property ``on-event``.
        """
        properties = {key.replace("_", "-"): value for key, value in fields.items()}
        with self._lock:
            return self._add(self._menus[menu], properties, owner="admin")

    # -- the protocol ---------------------------------------------------------

    def serve(self, connection: socket.socket) -> None:
        """Answer one client until it leaves, fails, or the peer closes."""
        if self.ssl_context is not None:
            try:
                connection = self.ssl_context.wrap_socket(connection, server_side=True)
            except (ssl.SSLError, OSError):
                return
        with self._lock:
            self._connections.add(connection)
        try:
            self._conversation(_Wire(connection), _Session())
        except (EOFError, OSError, ProtocolError):
            pass
        finally:
            with self._lock:
                self._connections.discard(connection)
            connection.close()

    def _conversation(self, wire: _Wire, session: _Session) -> None:
        while not self._stopping.is_set():
            sentence = wire.read_sentence()
            if not sentence:
                continue
            with self._lock:
                self.received.append(sentence)
                fault = self._faults.get(sentence[0])
            tag = [word for word in sentence if word.startswith(".tag=")][-1:]

            if fault is not None:
                how, message = fault
                if how == "drop":
                    return
                if how == "hang":
                    self._stopping.wait()
                    return
                if how == "fatal":
                    wire.write([["!fatal", message]])
                    return
                wire.write([["!trap", f"=message={message}", *tag], ["!done", *tag]])
                continue

            if sentence[0] == "/quit":
                wire.write([["!fatal", "session terminated on request"]])
                return
            if sentence[0] != "/login" and session.user is None:
                wire.write([["!fatal", "not logged in"]])
                return
            replies = self._answer(sentence, session)
            wire.write([[*reply, *tag] for reply in replies])

    def _answer(self, sentence: list[str], session: _Session) -> list[list[str]]:
        command = sentence[0]
        attributes: Fields = {}
        queries: list[str] = []
        for word in sentence[1:]:
            if word.startswith("="):
                key, _, value = word[1:].partition("=")
                attributes[key] = value
            elif word.startswith("?"):
                queries.append(word[1:])
            elif not word.startswith(".tag="):
                return _trap(f"unknown parameter {word}")
        try:
            if command == "/login":
                return self._login(attributes, session)
            menu, _, verb = command.rpartition("/")
            if menu not in self._menus:
                raise _Trap("no such command prefix")
            with self._lock:
                return self._menu_command(
                    self._menus[menu], verb, attributes, queries, session
                )
        except _Trap as trap:
            return _trap(trap.message)

    def _login(self, attributes: Fields, session: _Session) -> list[list[str]]:
        name = attributes.get("name", "")
        if self.legacy_login:
            if "response" not in attributes or session.challenge is None:
                session.challenge = secrets.token_bytes(16)
                return [["!done", f"=ret={session.challenge.hex()}"]]
            digest = hashlib.md5(
                b"\x00" + self.password.encode() + session.challenge
            ).hexdigest()
            accepted = attributes["response"] == "00" + digest
            failure = "cannot log in"
        else:
            accepted = attributes.get("password") == self.password
            failure = "invalid user name or password (6)"
        if not accepted or name != self.username:
            self.failed_logins.append(name)
            return _trap(failure)
        session.user = name
        self.logins.append(name)
        return [["!done"]]

    def _menu_command(
        self,
        menu: _Menu,
        verb: str,
        attributes: Fields,
        queries: list[str],
        session: _Session,
    ) -> list[list[str]]:
        if verb == "print":
            return self._print(menu, attributes, queries)
        if verb == "add":
            assert session.user is not None
            return [["!done", f"=ret={self._add(menu, attributes, session.user)}"]]
        if verb in ("set", "remove"):
            idents = self._idents(menu, attributes.pop(".id", ""))
            if verb == "remove":
                for ident in idents:
                    del menu.rows[ident]
            else:
                for ident in idents:
                    self._store(menu, ident, attributes)
            return [["!done"]]
        raise _Trap("no such command")

    def _print(
        self, menu: _Menu, attributes: Fields, queries: list[str]
    ) -> list[list[str]]:
        wanted = [key for key in attributes.pop(".proplist", "").split(",") if key]
        unknown = set(attributes) - {"detail", "without-paging"}
        if unknown:
            raise _Trap(f"unknown parameter {sorted(unknown)[0]}")
        rows = []
        for ident in self._rows(menu.path):
            shown = self._shown(menu, ident)
            if all(_matches(shown, query) for query in queries):
                if wanted:
                    shown = {key: shown[key] for key in wanted if key in shown}
                rows.append(
                    ["!re", *(f"={key}={value}" for key, value in shown.items())]
                )
        if not rows and self.empty_replies:
            return [["!empty"], ["!done"]]
        return [*rows, ["!done"]]

    def _add(self, menu: _Menu, fields: Fields, owner: str) -> str:
        name = fields.get("name", "")
        if not name:
            raise _Trap("failure: name must be given")
        if any(row.get("name") == name for row in menu.rows.values()):
            raise _Trap("failure: item with this name already exists")
        ident = f"*{menu.next_id:X}"
        menu.next_id += 1
        menu.rows[ident] = {}
        if menu.path == SCRIPT:
            fields = {"owner": owner, **fields}
        try:
            self._store(menu, ident, fields)
        except _Trap:
            del menu.rows[ident]
            raise
        return ident

    def _store(self, menu: _Menu, ident: str, fields: Fields) -> None:
        unknown = set(fields) - _PROPERTIES[menu.path]
        if unknown:
            raise _Trap(f"unknown parameter {sorted(unknown)[0]}")
        stored = {key: _normalise(key, value) for key, value in fields.items()}
        if self.on_store is not None:
            stored = self.on_store(menu.path, stored)
        menu.rows[ident].update(stored)

    def _idents(self, menu: _Menu, given: str) -> list[str]:
        idents = [ident for ident in given.split(",") if ident]
        if not idents or any(ident not in menu.rows for ident in idents):
            raise _Trap("no such item")
        return idents

    def _rows(self, path: str) -> list[str]:
        return sorted(self._menus[path].rows, key=lambda ident: int(ident[1:], 16))

    def _shown(self, menu: _Menu, ident: str) -> Fields:
        return {".id": ident, **menu.defaults, **menu.rows[ident]}


def _matches(row: Fields, query: str) -> bool:
    if query.startswith("-"):
        return query[1:] not in row
    key, equals, value = query.partition("=")
    if not equals:
        return key in row
    return row.get(key) == value


def _trap(message: str) -> list[list[str]]:
    return [["!trap", f"=message={message}"], ["!done"]]


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.peer.serve(self.request)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, peer: RouterOsApiPeer) -> None:
        self.peer = peer
        super().__init__(("127.0.0.1", 0), _Handler)


@contextmanager
def refusing_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections while the block runs.

    The socket is bound but never listens, so the port stays ours and nobody
    else can start listening on it during the test.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]
