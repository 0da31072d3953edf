"""`sdx site agent-script` and `sdx serve`."""

from __future__ import annotations

import io
import os
import re
import select
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from sdx_tui.backend.db import Database
from sdx_tui.backend.sites import get_site, token_matches
from sdx_tui.cli import main
from sdx_tui.config import load_settings
from tests.conftest import REPO_ROOT


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


Sdx = Callable[..., Result]


@pytest.fixture
def sdx(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Sdx:
    """Run `sdx` in-process as the OS user "ada", who becomes the desk's admin."""
    monkeypatch.setenv("LOGNAME", "ada")

    def run(*argv: str, stdin: str = "") -> Result:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def add_site(sdx: Sdx, name: str) -> str:
    added = sdx("site", "add", name)
    assert added.code == 0, added.err
    match = re.search(r"^token: (\S+)$", added.out, re.MULTILINE)
    assert match, added.out
    return match.group(1)


def stored_hash(name: str) -> str:
    database = Database.open(load_settings().effective_database_url)
    try:
        return get_site(database, name).token_hash
    finally:
        database.dispose()


def test_agent_script_needs_a_token_or_a_rotation(sdx: Sdx) -> None:
    add_site(sdx, "edge-1")
    refused = sdx("site", "agent-script", "edge-1")
    assert refused.code == 2
    assert "only a hash" in refused.err and "--rotate" in refused.err


def test_agent_script_with_the_saved_token(sdx: Sdx) -> None:
    token = add_site(sdx, "edge-1")
    before = stored_hash("edge-1")

    printed = sdx("site", "agent-script", "edge-1", "--token", token)
    from_stdin = sdx("site", "agent-script", "edge-1", "--token", "-", stdin=token)
    wrong = sdx("site", "agent-script", "edge-1", "--token", "x" * 43)

    assert printed.code == 0 and from_stdin.out == printed.out
    assert f"Bearer {token}" in printed.out
    assert "/agent/v1/poll" in printed.out and "/system scheduler" in printed.out
    assert "public_url is not set" in printed.err
    assert wrong.code == 2 and "not the current token" in wrong.err
    assert stored_hash("edge-1") == before


def test_agent_script_rotates_and_uses_the_public_url(sdx: Sdx) -> None:
    old = add_site(sdx, "edge-1")
    settings = load_settings()
    settings.config_path.write_text(
        '[endpoint]\npublic_url = "https://desk.example.net"\npoll_interval = 45\n'
    )

    printed = sdx("site", "agent-script", "edge-1", "--rotate")

    assert printed.code == 0
    new = re.search(r"Bearer ([A-Za-z0-9_-]+)", printed.out)
    assert new and new.group(1) != old
    assert token_matches(new.group(1), stored_hash("edge-1"))
    assert not token_matches(old, stored_hash("edge-1"))
    assert "https://desk.example.net/agent/v1/poll" in printed.out
    assert "interval=45s" in printed.out
    assert "old one stopped working" in printed.err
    assert "public_url" not in printed.err


def test_agent_script_is_for_admins(sdx: Sdx, monkeypatch: pytest.MonkeyPatch) -> None:
    token = add_site(sdx, "edge-1")
    assert sdx("user", "add", "olivia", "--role", "operator").code == 0
    monkeypatch.setenv("LOGNAME", "olivia")
    refused = sdx("site", "agent-script", "edge-1", "--token", token)
    assert refused.code == 1 and "admin" in refused.err


def test_serve_rejects_half_a_tls_pair(sdx: Sdx) -> None:
    refused = sdx("serve", "--tls-cert", "cert.pem")
    assert refused.code == 2 and "go together" in refused.err


@pytest.mark.slow
def test_serve_runs_until_sigterm(sdx: Sdx) -> None:
    token = add_site(sdx, "edge-1")
    env = {**os.environ, "LOGNAME": "ada"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sdx_tui",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready, "sdx serve printed nothing within two minutes"
        first = process.stdout.readline()
        match = re.search(r"serving devices on (http://127\.0\.0\.1:\d+)", first)
        assert match, first + process.stderr.read() if process.stderr else first
        with httpx.Client(base_url=match.group(1), timeout=30) as client:
            assert client.get("/healthz").status_code == 200
            poll = client.get(
                "/agent/v1/poll", headers={"Authorization": f"Bearer {token}"}
            )
            assert poll.status_code == 204
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, err
    assert "stopping" in out
    assert "Traceback" not in err


def test_simulate_provisions_sites_and_prints_a_summary(sdx: Sdx) -> None:
    ran = sdx(
        "simulate",
        "--devices",
        "3",
        "--interval",
        "0.2",
        "--duration",
        "1",
        "--seed",
        "5",
        "--flap-rate",
        "0.2",
    )
    assert ran.code == 0, ran.err
    assert "3 simulated site(s) sim-00001 .. sim-00003" in ran.out
    assert re.search(r"endpoint started on http://127\.0\.0\.1:\d+", ran.out)
    assert re.search(r"summary: .* polls .* 0 jobs run", ran.out)
    assert "0 deliveries run" in ran.out

    listed = sdx("site", "list", "--tag", "simulated")
    assert [line.split()[0] for line in listed.out.splitlines()[1:]] == [
        "sim-00001",
        "sim-00002",
        "sim-00003",
    ]


def test_simulate_checks_its_options(sdx: Sdx) -> None:
    assert sdx("simulate", "--devices", "0", "--interval", "1").code == 2
    refused = sdx("simulate", "--devices", "2", "--interval", "1", "--fail-rate", "2")
    assert refused.code == 2 and "--fail-rate" in refused.err
    assert "simulated" not in sdx("site", "list").out
