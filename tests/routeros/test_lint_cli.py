"""`sdx lint` and `sdx schema` from the shell, without a database."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sdx_tui.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """These commands must work without ever opening the database."""

    def refuse(self: object) -> None:
        raise AssertionError("the command opened the database")

    monkeypatch.setattr("sdx_tui.cli.CommandContext.database", property(refuse))


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    (tmp_path / "good.rsc").write_text('/system identity set name="core"\n')
    (tmp_path / "warn.rsc").write_text("/system reboot\n")
    (tmp_path / "bad.rsc").write_text(':put "unterminated\n')
    (tmp_path / "new.rsc").write_text(":onerror e in={ :put 1 } do={ :put $e }\n")
    return tmp_path


def stdin_of(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_a_clean_file_exits_0_silently(
    scripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", str(scripts / "good.rsc")]) == 0
    assert capsys.readouterr().out == ""


def test_warnings_alone_exit_0(
    scripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scripts / "warn.rsc"
    assert main(["lint", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"{path}:1:1: RSC102 warning /system reboot takes the device offline\n"
    )


def test_errors_exit_1_with_one_line_each(
    scripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad, good = scripts / "bad.rsc", scripts / "good.rsc"
    assert main(["lint", str(good), str(bad)]) == 1
    assert capsys.readouterr().out == (
        f"{bad}:1:6: RSC003 error unterminated string: no closing '\"'\n"
    )


def test_json_output_lists_every_finding(
    scripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(scripts / name) for name in ("warn.rsc", "bad.rsc")]
    assert main(["lint", "--format", "json", *paths]) == 1
    assert json.loads(capsys.readouterr().out) == [
        {
            "path": paths[0],
            "line": 1,
            "column": 1,
            "code": "RSC102",
            "severity": "warning",
            "message": "/system reboot takes the device offline",
        },
        {
            "path": paths[1],
            "line": 1,
            "column": 6,
            "code": "RSC003",
            "severity": "error",
            "message": "unterminated string: no closing '\"'",
        },
    ]


def test_stdin_is_read_for_a_dash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin_of(monkeypatch, b":put (1\n")
    assert main(["lint", "-"]) == 1
    assert capsys.readouterr().out.startswith("<stdin>:1:6: RSC001 error")


def test_the_target_version_turns_on_version_rules(
    scripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(scripts / "new.rsc")
    assert main(["lint", path]) == 0
    assert main(["lint", "--routeros", "7.12", path]) == 1
    captured = capsys.readouterr()
    assert "RSC301 error the :onerror command needs RouterOS 7.13" in captured.out
    assert "no command tree cached for RouterOS 7.12" in captured.err


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "it is a binary file, not a script"),
        (b':put "caf\xe9"\n', "it is not UTF-8 text (byte 0xE9 at offset 9)"),
    ],
)
def test_unreadable_files_exit_2_naming_the_file(
    tmp_path: Path, content: bytes, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.rsc"
    path.write_bytes(content)
    assert main(["lint", str(path)]) == 2
    expected = f"sdx lint: error: cannot lint {path}: {reason}\n"
    assert capsys.readouterr().err == expected


def test_missing_files_and_directories_exit_2(
    tmp_path: Path, scripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.rsc"
    assert main(["lint", str(missing), str(tmp_path), str(scripts / "bad.rsc")]) == 2
    captured = capsys.readouterr()
    assert f"cannot lint {missing}: No such file or directory" in captured.err
    assert f"cannot lint {tmp_path}: it is a directory" in captured.err
    assert "RSC003" in captured.out  # the readable file is still linted


def test_huge_input_is_refused_not_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sdx_tui.commands.lint.MAX_SCRIPT_BYTES", 1000)
    stdin_of(monkeypatch, b":put 1\n" * 200)
    assert main(["lint", "-"]) == 2
    assert "too large" in capsys.readouterr().err


def test_random_bytes_never_crash_the_linter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import random

    generator = random.Random(20240601)
    alphabet = list(b'"$[](){}\\#;= \n\t:/abc=1') + list(range(0x80, 0x100))
    for index in range(40):
        path = tmp_path / f"fuzz{index}.rsc"
        path.write_bytes(bytes(generator.choice(alphabet) for _ in range(300)))
        assert main(["lint", str(path)]) in (0, 1, 2)
    capsys.readouterr()


@pytest.mark.parametrize(
    "argv",
    [
        ["lint"],
        ["lint", "--format", "xml", "a.rsc"],
        ["lint", "--routeros", "seven", "a.rsc"],
    ],
)
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    assert status == 2
    assert "error" in capsys.readouterr().err


# -- sdx schema ----------------------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def mirror(tmp_path: Path, shared_dir: Path) -> Iterator[str]:
    root = tmp_path / "mirror"
    (root / "7.24").mkdir(parents=True)
    shutil.copy(
        shared_dir / "schema" / "routeros-7.24-inspect.json", root / "7.24/inspect.json"
    )
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def test_schema_fetch_then_lint_checks_paths(
    mirror: str, scripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "fetch", "7.24", "--base-url", mirror]) == 0
    assert "RouterOS 7.24 command tree saved to" in capsys.readouterr().out
    assert main(["schema", "list"]) == 0
    assert capsys.readouterr().out.startswith("7.24  ")

    typo = scripts / "typo.rsc"
    typo.write_text("/ip adress print\n")
    assert main(["lint", "--routeros", "7.24", str(typo)]) == 0
    captured = capsys.readouterr()
    assert "RSC401 warning unknown menu or command 'adress' in /ip" in captured.out
    assert captured.err == ""


def test_schema_fetch_of_an_unpublished_release_exits_2(
    mirror: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "fetch", "7.99", "--base-url", mirror]) == 2
    assert "no command tree for RouterOS 7.99" in capsys.readouterr().err


def test_schema_import_and_an_explicit_schema_file(
    shared_dir: Path, scripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = shared_dir / "schema" / "routeros-7.22.3-inspect.json"
    assert main(["schema", "import", str(source)]) == 0
    assert "RouterOS 7.22.3 command tree saved" in capsys.readouterr().out

    typo = scripts / "typo.rsc"
    typo.write_text("/sytem reboot\n")
    assert main(["lint", "--schema", str(source), str(typo)]) == 0
    assert "RSC401" in capsys.readouterr().out
    assert main(["schema", "import", str(scripts / "good.rsc")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_schema_list_when_nothing_is_cached(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "list"]) == 0
    assert "no command trees cached" in capsys.readouterr().out


@pytest.mark.slow
def test_python_m_sdx_tui_lint_runs_in_a_fresh_process(tmp_path: Path) -> None:
    script = tmp_path / "job.rsc"
    script.write_text("/system reboot\n:put [:len $x\n")
    result = subprocess.run(
        [sys.executable, "-m", "sdx_tui", "lint", "--format", "json", str(script)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert [f["code"] for f in json.loads(result.stdout)] == ["RSC102", "RSC001"]
