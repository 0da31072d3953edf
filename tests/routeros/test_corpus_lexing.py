"""The lexer over the whole shared corpus, checked against RouterOS's own parse.

The golden index (``parseil-index.tsv``) has one flag per script, but the flag
says whether RouterOS's parse output holds an activation form (``(<%%``), not
whether the parse succeeded: about a third of the scripts flagged 0 were
rejected by RouterOS with a syntax error and have no parse at all. What RouterOS
accepted is therefore read from the golden parse itself: a parse that is empty
or starts with ``/`` or ``(`` and carries no ``(line N column M)`` annotation.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

import pytest
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    _TokenType,
)

from sdx_tui.backend.routeros.lexer import RouterOSLexer

ROUTEROS_VERSION = "7.22.1"
ERROR_ANNOTATION = re.compile(r"\(line \d+ column \d+\)")


@dataclass(frozen=True)
class GoldenScript:
    """One script of the golden index and what RouterOS made of it."""

    source: Path
    flag: str
    parse: str

    @property
    def accepted(self) -> bool:
        """RouterOS parsed the script and annotated no error in the parse."""
        parsed = not self.parse or self.parse[0] in "/("
        return parsed and not ERROR_ANNOTATION.search(self.parse)


@pytest.fixture(scope="module")
def corpus(shared_dir: Path) -> Path:
    return shared_dir / "corpus"


@pytest.fixture(scope="module")
def golden_scripts(corpus: Path) -> list[GoldenScript]:
    sources = corpus / "lsp-routeros-ts"
    golden = corpus / "golden" / "lsp-routeros-ts"
    scripts = []
    with (corpus / "golden" / "parseil-index.tsv").open(encoding="utf-8") as index:
        for row in csv.DictReader(index, delimiter="\t"):
            relative = row["rsc_path"]
            parse = golden / f"{relative}.v{ROUTEROS_VERSION}.parseil"
            scripts.append(
                GoldenScript(
                    source=(sources / relative).resolve(),
                    flag=row["parseil_has_error_marker"],
                    parse=parse.read_text(encoding="utf-8", errors="replace"),
                )
            )
    return scripts


def read_exactly(path: Path) -> str:
    """The text of ``path`` with its line endings untouched."""
    return path.read_bytes().decode("utf-8")


def lex(text: str) -> Iterator[tuple[int, _TokenType, str]]:
    return RouterOSLexer().get_tokens_unprocessed(text)


def test_every_corpus_script_lexes_back_to_its_exact_text(corpus: Path) -> None:
    paths = sorted(corpus.rglob("*.rsc"))
    assert len(paths) > 1000
    mismatched = []
    for path in paths:
        text = read_exactly(path)
        tokens = list(lex(text))
        if "".join(value for _, _, value in tokens) != text:
            mismatched.append(path)
            continue
        offsets = [index for index, _, _ in tokens]
        lengths = [len(value) for _, _, value in tokens]
        starts = [0, *accumulate(lengths)][:-1]
        if offsets != starts or 0 in lengths:
            mismatched.append(path)
    assert mismatched == []


def test_the_golden_index_resolves_to_real_scripts(
    golden_scripts: list[GoldenScript],
) -> None:
    assert len(golden_scripts) == 900
    assert all(script.source.is_file() for script in golden_scripts)
    flags = Counter(script.flag for script in golden_scripts)
    assert set(flags) == {"0", "1"}


def test_the_index_flag_marks_activation_forms_not_parse_errors(
    golden_scripts: list[GoldenScript],
) -> None:
    for script in golden_scripts:
        assert (script.flag == "1") == ("(<%%" in script.parse), script.source
    rejected_but_flagged_0 = [
        s for s in golden_scripts if s.flag == "0" and not s.accepted
    ]
    assert len(rejected_but_flagged_0) > 100


def test_no_error_token_in_any_script_routeros_accepted(
    golden_scripts: list[GoldenScript],
) -> None:
    accepted = [script for script in golden_scripts if script.accepted]
    assert len(accepted) > 500
    with_errors = [
        (str(script.source), value)
        for script in accepted
        for _, ttype, value in lex(read_exactly(script.source))
        if ttype in Error
    ]
    assert with_errors == []


def test_no_error_token_in_scripts_flagged_0_that_routeros_parsed(
    golden_scripts: list[GoldenScript],
) -> None:
    flagged_0 = [s for s in golden_scripts if s.flag == "0" and s.accepted]
    assert len(flagged_0) > 300
    assert not any(
        ttype in Error
        for script in flagged_0
        for _, ttype, _ in lex(read_exactly(script.source))
    )


# How each RouterOS highlight class maps onto our token types. RouterOS splits
# ``:put`` into a menu ``:`` and a command ``put``; we keep ``:put`` one keyword.
# RouterOS knows from the live command tree which bare words are flags (``arg``)
# and which are values; we cannot, so only ``name=`` parameters are compared.
def agrees(routeros_class: str, ttype: _TokenType, char: str) -> bool | None:
    """Whether our type agrees with RouterOS's class; None when not comparable."""
    if char.isspace():
        return None
    if routeros_class == "comment":
        return ttype in Comment
    if routeros_class == "escaped":
        return ttype in String.Escape
    if routeros_class == "cmd":
        return ttype in Keyword or ttype in Name.Function
    if routeros_class == "dir":
        ice = ttype in Keyword or ttype in Name.Function
        return ttype in Name.Namespace or (char == ":" and ice)
    if routeros_class.startswith("variable-"):
        return ttype in Name.Variable
    if routeros_class in ("arg", "arg-scope", "arg-dot"):
        return ttype in Name.Attribute if ttype not in Text else None
    if routeros_class == "syntax-meta":
        return (
            ttype in Punctuation
            or ttype in Operator
            or ttype in String.Delimiter
            or ttype in String.Interpol
            or (char == "$" and ttype in Name.Variable)
        )
    if routeros_class == "none":
        return (
            ttype in String
            or ttype in Number
            or ttype in Text
            or (ttype in Keyword.Constant)
        )
    return None


# Measured agreement, rounded down; variables fall short where RouterOS marks the
# properties in ``find comment=$x`` as variables and we mark them as parameters.
MINIMUM_AGREEMENT = {
    "comment": 1.0,
    "escaped": 1.0,
    "cmd": 1.0,
    "dir": 1.0,
    "syntax-meta": 0.99,
    "none": 0.99,
    "variable-local": 0.8,
    "variable-global": 1.0,
    "variable-parameter": 1.0,
    "arg": 0.9,
}


def test_token_classes_agree_with_routeros_highlighting(corpus: Path) -> None:
    golden = corpus / "golden" / "lsp-routeros-ts"
    agreed: Counter[str] = Counter()
    compared: Counter[str] = Counter()
    highlight_files = sorted(golden.rglob("*.highlight"))
    assert len(highlight_files) >= 5
    for highlight in highlight_files:
        source = corpus / "lsp-routeros-ts" / highlight.relative_to(golden)
        text = read_exactly(source.with_suffix(""))
        classes = highlight.read_text(encoding="utf-8").strip().split(",")
        ours = [ttype for _, ttype, value in lex(text) for _ in value]
        assert len(classes) == len(ours) == len(text)
        for char, routeros_class, ttype in zip(text, classes, ours, strict=True):
            verdict = agrees(routeros_class, ttype, char)
            if verdict is None:
                continue
            key = "arg" if routeros_class.startswith("arg") else routeros_class
            compared[key] += 1
            agreed[key] += verdict
    for routeros_class, minimum in MINIMUM_AGREEMENT.items():
        assert compared[routeros_class] > 0, routeros_class
        share = agreed[routeros_class] / compared[routeros_class]
        assert share >= minimum, (routeros_class, share)
