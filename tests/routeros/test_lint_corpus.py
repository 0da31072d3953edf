"""The linter over the shared corpus: precision and recall of the syntax rules.

Which scripts RouterOS accepted is read from its own parse: the index flag
(``parseil-index.tsv``) marks activation forms in the parse, not errors, and
about a third of the scripts flagged 0 were rejected outright (their parse is
just ``syntax error (line N column M)`` and the like). Precision is measured on
the scripts flagged 0 whose parse shows that RouterOS accepted them.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from pathlib import Path

import pytest

from sdx_tui.backend.routeros.lint import lint
from sdx_tui.backend.routeros.scanner import scan

ROUTEROS_VERSION = "7.22.1"
ERROR_ANNOTATION = re.compile(r"\(line \d+ column \d+\)")
SYNTAX_CODES = {f"RSC00{n}" for n in range(1, 8)}


def accepted(parse: str) -> bool:
    """RouterOS produced a parse, and annotated no error in it."""
    return (not parse or parse[0] in "/(") and not ERROR_ANNOTATION.search(parse)


@pytest.fixture(scope="module")
def clean_scripts(shared_dir: Path) -> list[tuple[str, str]]:
    """(relative path, text) of every flag-0 script RouterOS accepted."""
    corpus = shared_dir / "corpus"
    golden = corpus / "golden" / "lsp-routeros-ts"
    scripts = []
    with (corpus / "golden" / "parseil-index.tsv").open(encoding="utf-8") as index:
        for row in csv.DictReader(index, delimiter="\t"):
            relative = row["rsc_path"]
            parse = (golden / f"{relative}.v{ROUTEROS_VERSION}.parseil").read_text(
                encoding="utf-8", errors="replace"
            )
            if row["parseil_has_error_marker"] == "0" and accepted(parse):
                source = corpus / "lsp-routeros-ts" / relative
                scripts.append((relative, source.read_bytes().decode("utf-8")))
    return scripts


def test_the_clean_set_is_most_of_what_routeros_accepted(
    clean_scripts: list[tuple[str, str]],
) -> None:
    assert len(clean_scripts) >= 300


def test_no_error_on_any_script_routeros_accepted(
    clean_scripts: list[tuple[str, str]],
) -> None:
    errors = [
        (relative, finding)
        for relative, text in clean_scripts
        for finding in lint(text)
        if finding.is_error
    ]
    assert errors == []


def test_the_library_corpus_has_no_syntax_error(shared_dir: Path) -> None:
    """A maintained RouterOS library, in both dialects, is syntactically clean."""
    paths = sorted((shared_dir / "corpus" / "MTM-RouterOS-Scripting").rglob("*.rsc"))
    assert len(paths) > 150
    errors = [
        (path.name, finding)
        for path in paths
        for finding in lint(path.read_text(encoding="utf-8"))
        if finding.code in SYNTAX_CODES
    ]
    assert errors == []


def test_deleting_a_closing_bracket_brace_or_quote_is_a_syntax_error(
    clean_scripts: list[tuple[str, str]],
) -> None:
    """Recall: one closer deleted per clean script, chosen by a per-file seed.

    The closers are the ``]``, ``)``, ``}`` and ``"`` that close something in
    the script (a bracket inside a string closes nothing, and deleting it is no
    error for RouterOS either).
    """
    tried = 0
    missed = []
    for relative, text in clean_scripts:
        closers = scan(text).closers
        if not closers:
            continue
        seed = int.from_bytes(hashlib.sha256(relative.encode()).digest()[:8], "big")
        position = random.Random(seed).choice(closers)
        mutated = text[:position] + text[position + 1 :]
        tried += 1
        if not any(f.code in SYNTAX_CODES and f.is_error for f in lint(mutated)):
            missed.append((relative, position))

    assert tried >= 280
    assert (tried - len(missed)) / tried >= 0.99, missed


def test_every_quote_and_bracket_counts_as_a_closer_once(
    clean_scripts: list[tuple[str, str]],
) -> None:
    """The mutation candidates are the real closers, each exactly once."""
    for _, text in clean_scripts:
        result = scan(text)
        assert len(set(result.closers)) == len(result.closers)
        assert {text[position] for position in result.closers} <= set('])}"')
        assert len(result.string_spans) == sum(
            text[position] == '"' for position in result.closers
        )
