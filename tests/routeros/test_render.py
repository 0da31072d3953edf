"""The scripts the desk writes for devices: exact text, and lint-clean.

The expected texts live in ``rendered/``; each was read line by line when it
was written, and any change to a renderer must change them on purpose.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sdx_tui.backend.errors import InvalidInput
from sdx_tui.backend.routeros.lint import lint
from sdx_tui.backend.routeros.quoting import escape, quote
from sdx_tui.backend.routeros.render import (
    MAX_WRAPPER_BYTES,
    BackupTarget,
    JobResult,
    parse_result_body,
    render_agent_installer,
    render_backup_prelude,
    render_job_wrapper,
)
from sdx_tui.backend.routeros.schema import CommandTree, load_schema
from sdx_tui.config import BackupSettings

RENDERED = Path(__file__).parent / "rendered"
TOKEN = "Zm9vYmFyLXRva2Vu_01"
TARGET = BackupTarget(
    host="backup.example.net",
    user="noc",
    password='pa"ss$1',
    path="/srv/backups/",
    port=2222,
)
BODY = (
    "/interface vlan add name=vlan42 vlan-id=42 interface=bridge\n"
    ':put "vlan $[:len [/interface vlan find]]"\n'
)
_ESCAPED = re.compile(r"\\([0-9A-F]{2}|.)", re.DOTALL)
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "_": " ", "a": "\a", "b": "\b"}


def unescape(content: str) -> str:
    """What RouterOS reads from the text between a string's quotes."""

    def one(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if len(escaped) == 2:
            return chr(int(escaped, 16))
        return _SIMPLE.get(escaped, escaped)

    return _ESCAPED.sub(one, content)


@pytest.fixture(scope="module")
def tree(shared_dir: Path) -> CommandTree:
    return load_schema(shared_dir / "schema" / "routeros-7.22.3-inspect.json")


@pytest.fixture(scope="module")
def prelude() -> str:
    return render_backup_prelude(job_name="nightly vlan/42", sftp=TARGET)


def expected(name: str) -> str:
    return (RENDERED / name).read_text(encoding="utf-8")


def errors(script: str, tree: CommandTree, version: str) -> list[object]:
    return [
        f
        for f in lint(script, schema=tree, routeros_version=version)
        if f.is_error or f.code.startswith("RSC4")
    ]


# -- quoting -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["plain", 'q"uote', "back\\slash", "$var $(x) $[y]", "a?b", "\n\r\t\x01\x7f"],
)
def test_quoted_text_reads_back_unchanged_and_lints_clean(text: str) -> None:
    assert unescape(escape(text)) == text
    assert lint(f":put {quote(text)}\n") == []


# -- backup prelude ------------------------------------------------------------


def test_backup_prelude_exact_text(prelude: str) -> None:
    assert prelude == expected("backup_prelude.rsc")


def test_backup_prelude_lints_clean(prelude: str, tree: CommandTree) -> None:
    assert errors(prelude, tree, "7.13") == []
    assert errors(prelude, tree, "6.49") == []
    assert {f.code for f in lint(prelude)} == {"RSC104"}  # it deletes its own files


def test_backup_prelude_saves_waits_uploads_cleans_up_and_can_stop(
    prelude: str,
) -> None:
    steps = [
        "/system backup save",
        "/export file=",
        ":while (",
        "the backup files did not appear",
        "/tool fetch upload=yes mode=sftp",
        "/file remove",
        "the SFTP upload to backup.example.net did not succeed",
        ':put "sdx-backup: uploaded',
    ]
    positions = [prelude.index(step) for step in steps]
    assert positions == sorted(positions)
    assert prelude.count(":error ") == 2
    assert 'password="pa\\"ss\\$1"' in prelude
    assert 'pa"ss' not in repr(TARGET)


def test_backup_target_comes_from_the_settings() -> None:
    settings = BackupSettings(sftp_host="h", sftp_user="u", sftp_password="p")
    assert BackupTarget.from_settings(settings) == BackupTarget("h", "u", "p")
    with pytest.raises(InvalidInput, match="no SFTP server"):
        render_backup_prelude(job_name="x", sftp=BackupTarget("", "u", "p"))


# -- agent installer -----------------------------------------------------------


def test_agent_installer_exact_text() -> None:
    script = render_agent_installer(
        site_name='Depot "North"',
        base_url="https://desk.example.net:8470/",
        token=TOKEN,
        interval_seconds=30,
    )
    assert script == expected("agent_installer.rsc")


def test_agent_installer_lints_clean_and_replaces_itself(tree: CommandTree) -> None:
    script = expected("agent_installer.rsc")
    assert errors(script, tree, "7.13") == []
    assert errors(script, tree, "6.49") == []
    assert "RSC201" not in {f.code for f in lint(script)}
    removes = [
        script.index(f'/system {m} remove [find name="sdx-agent"]')
        for m in (
            "scheduler",
            "script",
        )
    ]
    assert max(removes) < script.index("/system script add")


def test_agent_polls_with_its_token_and_runs_what_it_gets() -> None:
    script = expected("agent_installer.rsc")
    assert '"https://desk.example.net:8470/agent/v1/poll"' in script
    assert f'"Authorization: Bearer {TOKEN}"' in script
    assert "http-header-field=$sdxAuth" in script
    assert "output=user as-value" in script
    assert "[:parse $sdxJob]" in script
    assert "interval=30s" in script
    assert 'on-event="/system script run sdx-agent"' in script


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"token": "has,comma-in-it"}, "token"),
        ({"token": 'quote"inside-it'}, "token"),
        ({"base_url": "ftp://desk"}, "URL"),
        ({"base_url": 'https://desk"; /system reboot'}, "URL"),
        ({"interval_seconds": 1}, "interval"),
    ],
)
def test_agent_installer_refuses_values_that_could_break_the_script(
    options: dict[str, object], complaint: str
) -> None:
    arguments: dict[str, object] = {
        "site_name": "x",
        "base_url": "https://desk",
        "token": TOKEN,
        "interval_seconds": 30,
        **options,
    }
    with pytest.raises(InvalidInput, match=complaint):
        render_agent_installer(**arguments)  # type: ignore[arg-type]


def test_a_site_name_cannot_escape_its_comment() -> None:
    script = render_agent_installer(
        site_name="x\n/system reset-configuration",
        base_url="https://desk",
        token=TOKEN,
        interval_seconds=30,
    )
    assert "RSC101" not in {f.code for f in lint(script)}


# -- job wrapper ---------------------------------------------------------------


def test_wrapper_v7_exact_text(prelude: str) -> None:
    script = render_job_wrapper(
        delivery_id="dlv-7f3a",
        body=BODY,
        base_url="https://desk.example.net",
        token=TOKEN,
        backup_prelude=prelude,
    )
    assert script == expected("job_wrapper_v7.rsc")


def test_wrapper_v6_exact_text() -> None:
    script = render_job_wrapper(
        delivery_id="dlv-7f3a",
        body=BODY,
        base_url="https://desk.example.net",
        token=TOKEN,
        routeros_major=6,
    )
    assert script == expected("job_wrapper_v6.rsc")


def test_wrappers_lint_clean_on_their_versions(tree: CommandTree) -> None:
    assert errors(expected("job_wrapper_v7.rsc"), tree, "7.13") == []
    assert errors(expected("job_wrapper_v6.rsc"), tree, "6.49") == []


def test_the_v7_job_runs_through_execute_and_reads_back_exactly(
    prelude: str, tree: CommandTree
) -> None:
    script = expected("job_wrapper_v7.rsc")
    match = re.search(r'^  :local sdxJob "((?:[^"\\]|\\.)*)"$', script, re.MULTILINE)
    assert match is not None
    job = unescape(match.group(1))
    assert job.startswith(
        ":onerror sdxJobError in={\n" + prelude.rstrip() + "\n" + BODY
    )
    assert ':put "SDX-DONE-dlv-7f3a"' in job
    assert errors(job, tree, "7.13") == []
    assert ":execute script=$sdxJob as-string" in script


def test_the_wrapper_remembers_deliveries_and_posts_json(prelude: str) -> None:
    script = expected("job_wrapper_v7.rsc")
    assert ":global sdxDeliveries" in script
    assert ':set ($sdxDeliveries->$sdxKey) "running"' in script
    assert ':local sdxUrl "https://desk.example.net/agent/v1/result/dlv-7f3a"' in script
    assert f'"Authorization: Bearer {TOKEN},Content-Type: application/json"' in script
    assert "http-method=post" in script and "http-data=$sdxBody" in script
    assert "[sdx: output truncated: " in script
    assert script.index("running") < script.index(":execute")


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"delivery_id": "1; /system reboot"}, "delivery id"),
        ({"delivery_id": ""}, "delivery id"),
        ({"token": "short"}, "token"),
        ({"routeros_major": 5}, "RouterOS 5"),
        ({"body": "x" * MAX_WRAPPER_BYTES}, "too large"),
    ],
)
def test_the_wrapper_refuses_what_it_cannot_deliver(
    options: dict[str, object], complaint: str
) -> None:
    arguments: dict[str, object] = {
        "delivery_id": "1",
        "body": ":put 1",
        "base_url": "https://desk",
        "token": TOKEN,
        **options,
    }
    with pytest.raises(InvalidInput, match=complaint):
        render_job_wrapper(**arguments)  # type: ignore[arg-type]


# -- the result POST -----------------------------------------------------------


def test_a_result_body_is_read_as_documented() -> None:
    body = json.dumps({"status": "completed", "output": "ok\nsdx-backup: uploaded x"})
    result = parse_result_body(body.encode())
    assert result == JobResult("completed", "ok\nsdx-backup: uploaded x")
    assert result.backup == "uploaded" and not result.truncated


def test_bytes_that_are_not_utf8_do_not_stop_a_result() -> None:
    body = b'{"status":"failed","output":"caf\xe9\\nerror: sdx-backup: failed: no"}'
    result = parse_result_body(body)
    assert result.status == "failed"
    assert result.output.startswith("caf\ufffd\n")
    assert result.backup == "failed"


def test_a_truncated_output_is_visible() -> None:
    body = '{"status":"completed","output":"x\\n[sdx: output truncated: 9 bytes]"}'
    assert parse_result_body(body.encode()).truncated


@pytest.mark.parametrize(
    "body",
    [
        b"status=completed",
        b'["completed"]',
        b'{"status":"done","output":""}',
        b'{"status":"completed"}',
        b'{"status":"completed","output":5}',
    ],
)
def test_malformed_results_are_refused(body: bytes) -> None:
    with pytest.raises(ValueError, match="result"):
        parse_result_body(body)
