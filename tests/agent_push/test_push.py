"""Pushing the agent to a device through its API, against a real API server."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sdx_tui.backend.agent_push import (
    AgentNotVerified,
    AgentPushError,
    DeviceDisconnected,
    DeviceLoginFailed,
    DeviceRefused,
    DeviceTimedOut,
    DeviceUnreachable,
    check_login,
    push_agent,
)
from sdx_tui.backend.errors import InvalidInput
from sdx_tui.backend.routeros.render import agent_entries, render_agent_installer
from tests.agent_push.conftest import DEVICE_CERT, PASSWORD, TOKEN, USER
from tests.peers.routeros_api import (
    SCHEDULER,
    SCRIPT,
    Fields,
    RouterOsApiPeer,
    refusing_port,
)

BASE_URL = "https://desk.example.net:8470"
AGENT = "sdx-agent"


def options(peer: RouterOsApiPeer | int, **changes: Any) -> dict[str, Any]:
    """What the desk gives push_agent for site "depot-1" on a peer or port."""
    return {
        "address": "127.0.0.1",
        "port": peer if isinstance(peer, int) else peer.port,
        "username": USER,
        "password": PASSWORD,
        "site_name": "depot-1",
        "base_url": BASE_URL,
        "token": TOKEN,
        "interval_seconds": 30,
        **changes,
    }


def agent_rows(peer: RouterOsApiPeer, menu: str) -> list[Fields]:
    return [row for row in peer.entries(menu) if row["name"] == AGENT]


def without_ids(rows: list[Fields]) -> list[Fields]:
    return [{k: v for k, v in row.items() if k != ".id"} for row in rows]


def bearer(source: str) -> str:
    match = re.search(r'"Authorization: Bearer ([^"]+)"', source)
    assert match, source
    return match.group(1)


@pytest.fixture(params=["7.16", "6.42 challenge login", "7.19 !empty replies"])
def any_device(request: pytest.FixtureRequest) -> Iterator[RouterOsApiPeer]:
    """Devices that log in and answer empty prints in each of their ways."""
    with RouterOsApiPeer(
        username=USER,
        password=PASSWORD,
        legacy_login="challenge" in request.param,
        empty_replies="!empty" in request.param,
    ) as peer:
        yield peer


def test_the_push_adds_what_the_installer_would(any_device: RouterOsApiPeer) -> None:
    result = push_agent(**options(any_device))

    agent = agent_entries(
        site_name="depot-1", base_url=BASE_URL, token=TOKEN, interval_seconds=30
    )
    (script,) = agent_rows(any_device, SCRIPT)
    (scheduler,) = agent_rows(any_device, SCHEDULER)
    assert script["source"] == agent.source
    assert f"{{\n{script['source']}}}" in render_agent_installer(
        site_name="depot-1", base_url=BASE_URL, token=TOKEN, interval_seconds=30
    )
    assert bearer(script["source"]) == TOKEN
    assert f'"{BASE_URL}/agent/v1/poll"' in script["source"]
    assert script["comment"] == scheduler["comment"] == "SDX desk agent for depot-1"
    assert script["owner"] == USER
    assert scheduler["on-event"] == "/system script run sdx-agent"
    assert scheduler["interval"] == "30s"
    assert scheduler["start-time"] == "startup"
    assert set(scheduler["policy"].split(",")) >= {"read", "write", "test"}

    assert (result.script_id, result.scheduler_id) == (script[".id"], scheduler[".id"])
    assert (result.removed_scripts, result.removed_schedulers) == (0, 0)
    assert (result.port, result.interval_seconds) == (any_device.port, 30)
    assert "depot-1" in result.describe()


def test_the_old_agent_is_replaced_and_nothing_else_is_touched(
    device: RouterOsApiPeer,
) -> None:
    old_script = device.add_entry(SCRIPT, name=AGENT, source=":put old-token")
    old_scheduler = device.add_entry(SCHEDULER, name=AGENT, interval="1m")
    device.add_entry(SCRIPT, name="nightly-backup", source="/system backup save")
    device.add_entry(SCHEDULER, name="nightly", on_event="nightly-backup")

    result = push_agent(**options(device, interval_seconds=300))

    assert (result.removed_scripts, result.removed_schedulers) == (1, 1)
    assert result.replaced
    assert [row["name"] for row in device.entries(SCRIPT)] == [
        "nightly-backup",
        AGENT,
    ]
    assert [row["name"] for row in device.entries(SCHEDULER)] == ["nightly", AGENT]
    (script,) = agent_rows(device, SCRIPT)
    (scheduler,) = agent_rows(device, SCHEDULER)
    assert old_script != script[".id"] and old_scheduler != scheduler[".id"]
    assert bearer(script["source"]) == TOKEN
    assert scheduler["interval"] == "5m"
    removals = [
        sentence for sentence in device.received if sentence[0].endswith("/remove")
    ]
    assert [sentence[0] for sentence in removals] == [
        "/system/scheduler/remove",
        "/system/script/remove",
    ]
    assert f"=.id={old_scheduler}" in removals[0]
    assert f"=.id={old_script}" in removals[1]


def test_pushing_twice_leaves_the_same_agent(device: RouterOsApiPeer) -> None:
    push_agent(**options(device))
    first = without_ids(device.entries(SCRIPT) + device.entries(SCHEDULER))

    again = push_agent(**options(device))

    assert without_ids(device.entries(SCRIPT) + device.entries(SCHEDULER)) == first
    assert (again.removed_scripts, again.removed_schedulers) == (1, 1)


def test_a_wrong_password_changes_nothing(device: RouterOsApiPeer) -> None:
    device.add_entry(SCRIPT, name=AGENT, source=":put old")

    with pytest.raises(DeviceLoginFailed, match="invalid user name or password"):
        push_agent(**options(device, password="not-it"))
    with pytest.raises(DeviceLoginFailed):
        check_login(**login_options(device, password="not-it"))

    assert device.commands() == ["/login", "/login"]
    assert [row["source"] for row in device.entries(SCRIPT)] == [":put old"]


def login_options(peer: RouterOsApiPeer, **changes: Any) -> dict[str, Any]:
    everything = options(peer, **changes)
    return {
        key: everything[key]
        for key in ("address", "port", "username", "password", "timeout")
        if key in everything
    }


def test_check_login_only_logs_in(device: RouterOsApiPeer) -> None:
    check_login(**login_options(device))

    assert device.commands() == ["/login"]
    assert device.logins == [USER]


def test_a_closed_port_is_unreachable() -> None:
    with refusing_port() as port, pytest.raises(DeviceUnreachable, match="refused"):
        push_agent(**options(port))


@pytest.mark.parametrize(
    ("command", "how", "error", "incomplete"),
    [
        ("/login", "drop", DeviceDisconnected, False),
        ("/system/script/print", "fatal", DeviceDisconnected, False),
        ("/system/script/add", "drop", DeviceDisconnected, True),
        ("/system/scheduler/add", "fatal", DeviceDisconnected, True),
        ("/system/scheduler/add", "trap", DeviceRefused, True),
    ],
)
def test_a_device_that_gives_up_mid_way(
    device: RouterOsApiPeer,
    command: str,
    how: Any,
    error: type[AgentPushError],
    incomplete: bool,
) -> None:
    device.add_entry(SCRIPT, name=AGENT, source=":put old")
    device.fail(command, how, "not enough permissions (9)")

    with pytest.raises(error) as raised:
        push_agent(**options(device))

    message = str(raised.value)
    assert ("incomplete" in message) is incomplete, message
    if how == "trap":
        assert "not enough permissions (9)" in message

    device.heal()
    push_agent(**options(device))
    assert len(agent_rows(device, SCRIPT)) == len(agent_rows(device, SCHEDULER)) == 1


def test_a_device_that_never_answers_times_out(device: RouterOsApiPeer) -> None:
    # The kernel completes the connection, so the login is the only step that
    # can wait: a short timeout cannot fire anywhere else on a busy machine.
    device.fail("/login", "hang")

    with pytest.raises(DeviceTimedOut, match=r"within 0\.5 s while logging in"):
        push_agent(**options(device, timeout=0.5))


def test_what_the_device_reads_back_is_checked(device: RouterOsApiPeer) -> None:
    def narrow_policy(menu: str, fields: Fields) -> Fields:
        return {**fields, "policy": "read"} if menu == SCHEDULER else fields

    device.on_store = narrow_policy

    with pytest.raises(AgentNotVerified, match="scheduler entry's policy differs"):
        push_agent(**options(device))


def test_values_that_cannot_go_into_the_agent_stop_before_connecting(
    device: RouterOsApiPeer,
) -> None:
    with pytest.raises(InvalidInput, match="interval"):
        push_agent(**options(device, interval_seconds=1))
    with pytest.raises(InvalidInput, match="token"):
        push_agent(**options(device, token='a"; /system reset-configuration'))

    assert device.commands() == []


def test_api_ssl_with_the_devices_certificate(tls_device: RouterOsApiPeer) -> None:
    result = push_agent(**options(tls_device, ca_file=str(DEVICE_CERT)))

    assert result.script_id == agent_rows(tls_device, SCRIPT)[0][".id"]


def test_api_ssl_refuses_a_certificate_it_cannot_trust(
    tls_device: RouterOsApiPeer,
) -> None:
    with pytest.raises(DeviceUnreachable, match=r"certificate .* is not trusted"):
        push_agent(**options(tls_device, use_ssl=True))

    assert tls_device.commands() == []


def test_a_missing_certificate_file_is_named(
    tls_device: RouterOsApiPeer, tmp_path: Path
) -> None:
    missing = tmp_path / "device.pem"

    with pytest.raises(
        DeviceUnreachable, match=r"cannot use .*device\.pem .*: No such file"
    ):
        push_agent(**options(tls_device, ca_file=str(missing)))

    assert tls_device.commands() == []


def test_no_log_line_or_error_holds_the_password_or_token(
    device: RouterOsApiPeer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    push_agent(**options(device))
    for command, how in [
        ("/system/script/add", "trap"),
        ("/system/scheduler/add", "drop"),
        ("/system/script/remove", "fatal"),
    ]:
        device.fail(command, how)
        with pytest.raises(AgentPushError) as raised:
            push_agent(**options(device))
        errors.append(raised.value)
        device.heal()
    with pytest.raises(DeviceLoginFailed) as refused:
        push_agent(**options(device, password=PASSWORD + "-wrong"))
    errors.append(refused.value)

    formatter = logging.Formatter("%(name)s %(message)s")
    texts = [formatter.format(record) for record in caplog.records]
    texts += ["".join(traceback.format_exception(error)) for error in errors]
    assert any("agent pushed to site depot-1" in text for text in texts)
    assert sum("agent push stopped" in text for text in texts) == 4
    for text in texts:
        assert PASSWORD not in text
        assert TOKEN not in text
