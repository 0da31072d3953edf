"""Incremental lexing gives the tokens of a full lex, re-lexing little."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from sdx_tui.backend.routeros.incremental import IncrementalLexer
from sdx_tui.backend.routeros.lexer import RouterOSLexer, Token

SNIPPETS = [
    '"',
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\n",
    "\\\n",
    "\\",
    "#",
    "$",
    "$(",
    "$[",
    ":local x ",
    "/ip address add address=10.0.0.1/24 ",
    "=",
    ";",
    " ",
    'comment="a\\"b" ',
    "do={\n",
    "\n}\n",
]


def full_lex(lines: list[str]) -> list[Token]:
    return list(RouterOSLexer().get_tokens_unprocessed("\n".join(lines)))


def random_edit(rng: random.Random, text: str) -> str:
    """Delete, insert or replace a random span of ``text``."""
    start = rng.randint(0, len(text))
    end = min(len(text), start + rng.choice([0, 0, 1, 2, 5, 40, 300]))
    insert = "".join(rng.choice(SNIPPETS) for _ in range(rng.choice([0, 1, 1, 3])))
    return text[:start] + insert + text[end:]


@pytest.fixture(scope="module")
def script(shared_dir: Path) -> str:
    corpus = shared_dir / "corpus" / "lsp-routeros-ts" / "test-data"
    return (corpus / "test.rsc").read_text(encoding="utf-8")


def test_random_edits_give_the_tokens_of_a_full_lex(script: str) -> None:
    rng = random.Random(31337)
    text = script
    lexer = IncrementalLexer(text.split("\n"))
    for step in range(300):
        text = random_edit(rng, text)
        lines = text.split("\n")
        lexer.sync(lines)
        if step % 3:
            # Look at a few lines only, as an editor showing part of the text.
            for _ in range(3):
                lexer.line_tokens(rng.randrange(lexer.line_count))
            continue
        assert list(lexer.tokens()) == full_lex(lines), f"after edit {step}"
    assert list(lexer.tokens()) == full_lex(text.split("\n"))


def test_random_line_replacements_give_the_tokens_of_a_full_lex(script: str) -> None:
    rng = random.Random(4242)
    lines = script.split("\n")
    lexer = IncrementalLexer(lines)
    for step in range(200):
        start = rng.randint(0, len(lines))
        end = min(len(lines), start + rng.choice([0, 1, 2, 10]))
        new = [rng.choice(SNIPPETS).rstrip("\n") for _ in range(rng.choice([0, 1, 2]))]
        if not lines[:start] + new + lines[end:]:
            continue
        lines[start:end] = new
        lexer.replace_lines(start, end, new)
        if step % 4 == 0:
            assert list(lexer.tokens()) == full_lex(lines), f"after edit {step}"
    assert list(lexer.tokens()) == full_lex(lines)


def test_typing_inside_a_command_re_lexes_one_line() -> None:
    lines = [
        f"/ip address add address=10.0.{n % 250}.1/24 interface=ether1"
        for n in range(5000)
    ]
    lexer = IncrementalLexer(lines)
    lexer.line_tokens(4999)
    assert lexer.lines_lexed == 5000

    edited = list(lines)
    edited[2500] = edited[2500].replace("ether1", "ether12")
    assert lexer.sync(edited) == (2500, 2501, 2501)
    lexer.line_tokens(4999)
    assert lexer.lines_lexed == 5001


def test_an_opened_string_re_lexes_only_as_far_as_asked() -> None:
    lines = [f':put "line {n}"' for n in range(5000)]
    lexer = IncrementalLexer(lines)
    lexer.line_tokens(4999)
    before = lexer.lines_lexed

    edited = list(lines)
    edited[100] = ':put "line 100'
    lexer.sync(edited)
    lexer.line_tokens(150)
    assert lexer.lines_lexed - before == 51

    lexer.line_tokens(4999)
    assert list(lexer.tokens()) == full_lex(edited)


def test_closing_the_string_again_stops_at_the_next_line() -> None:
    lines = [f':put "line {n}"' for n in range(1000)]
    lexer = IncrementalLexer(lines)
    lexer.line_tokens(999)
    opened = list(lines)
    opened[10] = ':put "line 10'
    lexer.sync(opened)
    lexer.line_tokens(999)
    before = lexer.lines_lexed

    lexer.sync(lines)
    lexer.line_tokens(999)
    assert lexer.lines_lexed - before < 995
    assert list(lexer.tokens()) == full_lex(lines)


def test_inserting_and_deleting_lines_shifts_the_rest_without_re_lexing() -> None:
    lines = [f":local v{n} {n}" for n in range(3000)]
    lexer = IncrementalLexer(lines)
    lexer.line_tokens(2999)
    before = lexer.lines_lexed

    inserted = [*lines[:10], ":put 1", ":put 2", *lines[10:]]
    assert lexer.sync(inserted) == (10, 10, 12)
    assert lexer.line_tokens(3001) == full_lex(inserted[3001:])
    assert lexer.lines_lexed - before == 2

    assert lexer.sync(lines) == (10, 12, 10)
    assert list(lexer.tokens()) == full_lex(lines)


def test_the_last_line_gains_and_loses_its_line_break() -> None:
    lexer = IncrementalLexer(["/ip address \\"])
    assert list(lexer.tokens()) == full_lex(["/ip address \\"])
    lexer.sync(["/ip address \\", "print"])
    assert list(lexer.tokens()) == full_lex(["/ip address \\", "print"])
    lexer.sync(["/ip address \\"])
    assert list(lexer.tokens()) == full_lex(["/ip address \\"])


def test_sync_with_the_same_lines_changes_nothing() -> None:
    lexer = IncrementalLexer(["a", "b"])
    assert lexer.sync(("a", "b")) is None


def test_states_at_line_starts() -> None:
    lexer = IncrementalLexer([':put "a', 'b"', ":put 1"])
    assert lexer.state_at(0) == lexer.state_at(2)
    assert lexer.state_at(1) != lexer.state_at(0)


def test_out_of_range_lines_raise_index_error() -> None:
    lexer = IncrementalLexer(["a"])
    with pytest.raises(IndexError):
        lexer.line_tokens(1)
    with pytest.raises(IndexError):
        lexer.line_tokens(-1)
    with pytest.raises(IndexError):
        lexer.replace_lines(0, 2, [])
