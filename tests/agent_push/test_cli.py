"""`sdx site push-agent`: a new token, straight onto the device, never shown."""

from __future__ import annotations

import getpass
import re
from pathlib import Path

import pytest

from sdx_tui.backend.db import Database
from sdx_tui.backend.sites import get_site, token_matches
from sdx_tui.config import load_settings
from tests.agent_push.conftest import DEVICE_CERT, PASSWORD, USER, Result, Sdx
from tests.peers.routeros_api import SCHEDULER, SCRIPT, RouterOsApiPeer, refusing_port

SITE = "depot-1"


def add_site(sdx: Sdx, *extra: str) -> str:
    added = sdx("site", "add", SITE, *extra)
    assert added.code == 0, added.err
    match = re.search(r"^token: (\S+)$", added.out, re.MULTILINE)
    assert match, added.out
    return match.group(1)


def stored_hash() -> str:
    database = Database.open(load_settings().effective_database_url)
    try:
        return get_site(database, SITE).token_hash
    finally:
        database.dispose()


def pushed_token(peer: RouterOsApiPeer) -> str:
    (script,) = [row for row in peer.entries(SCRIPT) if row["name"] == "sdx-agent"]
    match = re.search(r'"Authorization: Bearer ([^"]+)"', script["source"])
    assert match, script["source"]
    return match.group(1)


def push(
    sdx: Sdx, peer: RouterOsApiPeer | int, *extra: str, terminal: bool = False
) -> Result:
    port = peer if isinstance(peer, int) else peer.port
    return sdx(
        "site",
        "push-agent",
        SITE,
        "--address",
        "127.0.0.1",
        "--port",
        str(port),
        "--user",
        USER,
        *extra,
        terminal=terminal,
    )


@pytest.fixture
def password_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DEPOT_API_PASSWORD", PASSWORD)
    return "DEPOT_API_PASSWORD"


def test_push_rotates_the_token_onto_the_device(
    sdx: Sdx, device: RouterOsApiPeer, password_env: str
) -> None:
    old_token = add_site(sdx)

    result = push(sdx, device, "--password-env", password_env, "--interval", "60")

    assert result.code == 0, result.err
    assert f"agent installed on {SITE} through 127.0.0.1:{device.port}" in result.out
    new_token = pushed_token(device)
    assert token_matches(new_token, stored_hash())
    assert not token_matches(old_token, stored_hash())
    assert new_token not in result.out + result.err
    assert PASSWORD not in result.out + result.err
    (scheduler,) = device.entries(SCHEDULER)
    assert scheduler["interval"] == "1m"
    assert "endpoint.public_url is not set" in result.err


def test_the_password_from_a_file_and_the_address_on_record(
    sdx: Sdx, device: RouterOsApiPeer, tmp_path: Path
) -> None:
    add_site(sdx, "--address", "127.0.0.1")
    secret = tmp_path / "device-password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")

    result = sdx(
        "site",
        "push-agent",
        SITE,
        "--port",
        str(device.port),
        "--user",
        USER,
        "--password-file",
        str(secret),
    )

    assert result.code == 0, result.err
    assert token_matches(pushed_token(device), stored_hash())


def test_a_prompt_for_the_password_at_a_terminal(
    sdx: Sdx, device: RouterOsApiPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_site(sdx)
    prompts: list[str] = []

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return PASSWORD

    monkeypatch.setattr(getpass, "getpass", answer)

    result = push(sdx, device, terminal=True)

    assert result.code == 0, result.err
    assert prompts == [f"RouterOS password for {USER}@127.0.0.1: "]


def test_no_password_without_a_terminal_is_a_usage_error(
    sdx: Sdx, device: RouterOsApiPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_site(sdx)
    before = stored_hash()
    monkeypatch.delenv("UNSET_PASSWORD", raising=False)

    no_source = push(sdx, device)
    unset = push(sdx, device, "--password-env", "UNSET_PASSWORD")
    in_clear = push(sdx, device, "--password", PASSWORD)

    assert no_source.code == 2 and "--password-file or --password-env" in no_source.err
    assert unset.code == 2 and "UNSET_PASSWORD is unset" in unset.err
    assert in_clear.code == 2
    assert stored_hash() == before
    assert device.commands() == []


def test_a_wrong_password_keeps_the_old_token(
    sdx: Sdx, device: RouterOsApiPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_token = add_site(sdx)
    monkeypatch.setenv("WRONG", "not-the-password")

    result = push(sdx, device, "--password-env", "WRONG")

    assert result.code == 1
    assert "refused the login" in result.err
    assert token_matches(old_token, stored_hash())
    assert "not-the-password" not in result.err


def test_a_closed_port_keeps_the_old_token(sdx: Sdx, password_env: str) -> None:
    old_token = add_site(sdx)

    with refusing_port() as port:
        result = push(sdx, port, "--password-env", password_env)

    assert result.code == 1
    assert "refused the connection" in result.err
    assert token_matches(old_token, stored_hash())


def test_a_push_that_breaks_off_says_the_token_changed(
    sdx: Sdx, device: RouterOsApiPeer, password_env: str
) -> None:
    add_site(sdx)
    device.add_entry(SCRIPT, name="sdx-agent", source=":put old")
    device.fail("/system/scheduler/add", "drop")

    broken = push(sdx, device, "--password-env", password_env)

    assert broken.code == 1
    assert "incomplete" in broken.err
    assert f"{SITE} has a new token already" in broken.err

    device.heal()
    fixed = push(sdx, device, "--password-env", password_env)
    assert fixed.code == 0, fixed.err
    assert token_matches(pushed_token(device), stored_hash())


def test_api_ssl_with_a_pinned_certificate(
    sdx: Sdx, tls_device: RouterOsApiPeer, password_env: str
) -> None:
    add_site(sdx)

    untrusted = push(sdx, tls_device, "--password-env", password_env, "--ssl")
    pinned = push(
        sdx, tls_device, "--password-env", password_env, "--ssl-ca", str(DEVICE_CERT)
    )

    assert untrusted.code == 1 and "not trusted" in untrusted.err
    assert pinned.code == 0, pinned.err
    assert token_matches(pushed_token(tls_device), stored_hash())


def test_only_an_admin_pushes(
    sdx: Sdx,
    device: RouterOsApiPeer,
    password_env: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_site(sdx)
    assert sdx("user", "add", "otto", "--role", "operator").code == 0
    monkeypatch.setenv("LOGNAME", "otto")

    result = push(sdx, device, "--password-env", password_env)

    assert result.code == 1
    assert "admin role" in result.err
    assert device.commands() == []
