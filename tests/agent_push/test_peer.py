"""The fake RouterOS API speaks the protocol as the specification and devices do.

Raw bytes are checked against the specification's encoding, written out here
by hand, so the peer is not only consistent with the client library.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import routeros_api
from routeros_api import base_api, exceptions

from tests.agent_push.conftest import PASSWORD, USER
from tests.peers.routeros_api import (
    SCHEDULER,
    SCRIPT,
    RouterOsApiPeer,
    encode_length,
    encode_sentence,
    seconds,
    show_duration,
)


def word(text: str) -> bytes:
    """One short word (under 128 bytes) with its one-byte length."""
    data = text.encode()
    assert len(data) < 0x80
    return bytes([len(data)]) + data


def receive_exactly(connection: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def raw(device: RouterOsApiPeer) -> Iterator[socket.socket]:
    with socket.create_connection(("127.0.0.1", device.port), timeout=30) as sock:
        yield sock


@pytest.fixture
def api(device: RouterOsApiPeer) -> Iterator[Any]:
    pool = routeros_api.RouterOsApiPool(
        "127.0.0.1", USER, PASSWORD, port=device.port, plaintext_login=True
    )
    try:
        yield pool.get_api()
    finally:
        pool.disconnect()


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0, b"\x00"),
        (0x7F, b"\x7f"),
        (0x80, b"\x80\x80"),
        (0x3FFF, b"\xbf\xff"),
        (0x4000, b"\xc0\x40\x00"),
        (0x1F_FFFF, b"\xdf\xff\xff"),
        (0x20_0000, b"\xe0\x20\x00\x00"),
        (0xFFF_FFFF, b"\xef\xff\xff\xff"),
        (0x1000_0000, b"\xf0\x10\x00\x00\x00"),
    ],
)
def test_word_lengths_are_encoded_as_the_specification_says(
    length: int, encoded: bytes
) -> None:
    assert encode_length(length) == encoded
    assert base_api.encode_length(length) == encoded


def test_a_tagged_login_is_answered_with_the_tag(
    raw: socket.socket, device: RouterOsApiPeer
) -> None:
    raw.sendall(
        word("/login")
        + word(f"=name={USER}")
        + word(f"=password={PASSWORD}")
        + word(".tag=7")
        + b"\x00"
    )

    expected = word("!done") + word(".tag=7") + b"\x00"
    assert receive_exactly(raw, len(expected)) == expected
    assert device.logins == [USER]


def test_a_wrong_password_gets_a_trap_then_done(raw: socket.socket) -> None:
    raw.sendall(word("/login") + word(f"=name={USER}") + word("=password=no") + b"\0")

    expected = encode_sentence(
        ["!trap", "=message=invalid user name or password (6)"]
    ) + encode_sentence(["!done"])
    assert receive_exactly(raw, len(expected)) == expected


def test_a_command_before_login_is_fatal(raw: socket.socket) -> None:
    raw.sendall(word("/system/script/print") + b"\x00")

    expected = word("!fatal") + word("not logged in") + b"\x00"
    assert receive_exactly(raw, len(expected)) == expected
    assert raw.recv(1) == b""


def test_quit_ends_the_session(raw: socket.socket) -> None:
    raw.sendall(
        word("/login") + word(f"=name={USER}") + word(f"=password={PASSWORD}") + b"\0"
    )
    receive_exactly(raw, len(word("!done")) + 1)
    raw.sendall(word("/quit") + b"\x00")

    expected = encode_sentence(["!fatal", "session terminated on request"])
    assert receive_exactly(raw, len(expected)) == expected
    assert raw.recv(1) == b""


def test_long_words_round_trip_through_the_client(
    api: Any, device: RouterOsApiPeer
) -> None:
    scripts = api.get_resource(SCRIPT)
    source = "".join(f":put {number}\n" for number in range(4_000))
    assert len(source) > 0x4000

    scripts.add(name="big", source=source)

    (shown,) = scripts.get(name="big")
    assert shown["source"] == source
    assert device.entries(SCRIPT)[0]["source"] == source


def test_print_queries_proplist_set_and_remove(
    api: Any, device: RouterOsApiPeer
) -> None:
    schedulers = api.get_resource(SCHEDULER)
    first = schedulers.add(name="a", interval="90", comment="x").done_message["ret"]
    schedulers.add(name="b", interval="1d 00:00:30", policy="write,read")

    assert [row["name"] for row in schedulers.get(name="b")] == ["b"]
    assert [row["name"] for row in schedulers.get(comment="x")] == ["a"]
    assert schedulers.get(name="c") == []
    assert schedulers.call("print", {"proplist": "name,interval"}) == [
        {"name": "a", "interval": "1m30s"},
        {"name": "b", "interval": "1d30s"},
    ]
    assert schedulers.get(name="b")[0]["policy"] == "read,write"

    schedulers.set(id=first, disabled="yes")
    assert schedulers.get(name="a")[0]["disabled"] == "true"
    schedulers.remove(id=first)
    assert [row["name"] for row in device.entries(SCHEDULER)] == ["b"]
    with pytest.raises(exceptions.RouterOsApiCommunicationError, match="no such item"):
        schedulers.remove(id=first)


def test_names_are_unique_and_unknown_properties_refused(
    api: Any,
) -> None:
    scripts = api.get_resource(SCRIPT)
    scripts.add(name="once")

    with pytest.raises(exceptions.RouterOsApiCommunicationError, match="exists"):
        scripts.add(name="once")
    with pytest.raises(exceptions.RouterOsApiCommunicationError, match="unknown"):
        scripts.add(name="other", colour="blue")
    with pytest.raises(exceptions.RouterOsApiCommunicationError, match="prefix"):
        api.get_resource("/no/such/menu").get()


@pytest.mark.parametrize("plaintext_login", [True, False])
def test_the_legacy_challenge_login(plaintext_login: bool) -> None:
    with RouterOsApiPeer(username=USER, password=PASSWORD, legacy_login=True) as peer:
        pool = routeros_api.RouterOsApiPool(
            "127.0.0.1", USER, PASSWORD, port=peer.port, plaintext_login=plaintext_login
        )
        try:
            pool.get_api().get_resource(SCRIPT).get()
        finally:
            pool.disconnect()
        wrong = routeros_api.RouterOsApiPool(
            "127.0.0.1", USER, "wrong", port=peer.port, plaintext_login=plaintext_login
        )
        try:
            with pytest.raises(
                exceptions.RouterOsApiCommunicationError, match="log in"
            ):
                wrong.get_api()
        finally:
            wrong.disconnect()

        assert peer.logins == [USER]
        assert peer.failed_logins == [USER]
        assert [c for c in peer.commands() if c == "/login"] == ["/login"] * 4


def test_an_empty_print_says_so_on_routeros_7_18() -> None:
    with (
        RouterOsApiPeer(password="", empty_replies=True) as peer,
        socket.create_connection(("127.0.0.1", peer.port), timeout=30) as raw,
    ):
        raw.sendall(word("/login") + word("=name=admin") + word("=password=") + b"\0")
        receive_exactly(raw, len(word("!done")) + 1)
        raw.sendall(word("/system/script/print") + word("?name=none") + b"\0")

        expected = encode_sentence(["!empty"]) + encode_sentence(["!done"])
        assert receive_exactly(raw, len(expected)) == expected


@pytest.mark.parametrize(
    ("written", "total", "shown"),
    [
        ("30s", 30, "30s"),
        ("300", 300, "5m"),
        ("1h30m", 5_400, "1h30m"),
        ("00:05:00", 300, "5m"),
        ("1w1d", 691_200, "1w1d"),
    ],
)
def test_durations_read_and_show_as_on_a_device(
    written: str, total: int, shown: str
) -> None:
    assert seconds(written) == total
    assert show_duration(total) == shown
