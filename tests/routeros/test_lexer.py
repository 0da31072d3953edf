"""The RouterOS Pygments lexer: token classes, errors, registration, robustness."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import (
    find_lexer_class_by_name,
    get_lexer_by_name,
    get_lexer_for_filename,
    guess_lexer,
)
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
    Whitespace,
    _TokenType,
)

from sdx_tui.backend.routeros.lexer import (
    ADDRESS,
    INITIAL_STATE,
    TIME,
    RouterOSLexer,
    lex_line,
)

Tokens = list[tuple[_TokenType, str]]


def lex(text: str) -> Tokens:
    """Tokens of ``text`` without whitespace, as (type, value) pairs."""
    return [
        (ttype, value)
        for _, ttype, value in RouterOSLexer().get_tokens_unprocessed(text)
        if ttype is not Whitespace
    ]


def types_of(text: str, value: str) -> set[_TokenType]:
    """The token types given to every token spelled ``value`` in ``text``."""
    return {ttype for ttype, token in lex(text) if token == value}


def errors(text: str) -> list[str]:
    return [value for ttype, value in lex(text) if ttype in Error]


def test_space_separated_menu_path_command_and_parameters() -> None:
    assert lex("/ip firewall filter add chain=input action=drop") == [
        (Name.Namespace, "/"),
        (Name.Namespace, "ip"),
        (Name.Namespace, "firewall"),
        (Name.Namespace, "filter"),
        (Name.Function, "add"),
        (Name.Attribute, "chain"),
        (Operator, "="),
        (Text, "input"),
        (Name.Attribute, "action"),
        (Operator, "="),
        (Text, "drop"),
    ]


def test_slash_separated_menu_path() -> None:
    assert lex("/ip/firewall/filter/add chain=forward")[:2] == [
        (Name.Namespace, "/ip/firewall/filter/"),
        (Name.Function, "add"),
    ]


def test_relative_paths_and_parent_menu() -> None:
    tokens = lex("/ip\naddress print\n..\nroute/print")
    assert (Name.Namespace, "address") in tokens
    assert (Name.Function, "print") in tokens
    assert (Name.Namespace, "..") in tokens
    assert (Name.Namespace, "route/") in tokens


def test_a_menu_alone_is_a_path_without_command() -> None:
    assert lex("/system script") == [
        (Name.Namespace, "/"),
        (Name.Namespace, "system"),
        (Name.Namespace, "script"),
    ]


def test_words_after_the_command_are_values_not_menus() -> None:
    tokens = lex("/system script run backup detail")
    assert tokens[-3:] == [
        (Name.Function, "run"),
        (Text, "backup"),
        (Text, "detail"),
    ]


@pytest.mark.parametrize(
    ("source", "declared", "ttype"),
    [
        (":local count 0", "count", Name.Variable),
        (":set count 1", "count", Name.Variable),
        (":global counter", "counter", Name.Variable.Global),
        (':global "set-dns" do={}', '"set-dns"', Name.Variable.Global),
        (":foreach k,v in=$a do={}", "v", Name.Variable),
        (":for i from=1 to=3 do={}", "i", Name.Variable),
        (":onerror e in={:error x} do={:put $e}", "e", Name.Variable),
    ],
)
def test_ice_commands_and_the_variables_they_declare(
    source: str, declared: str, ttype: _TokenType
) -> None:
    tokens = lex(source)
    assert tokens[0][0] is Keyword
    assert (ttype, declared) in tokens


@pytest.mark.parametrize(
    "command",
    [":if", ":foreach", ":while", ":do", ":onerror", ":retry", ":execute", ":put"],
)
def test_known_ice_commands_are_keywords(command: str) -> None:
    assert lex(f"{command} x")[0] == (Keyword, command)


def test_an_unknown_ice_command_is_not_a_keyword() -> None:
    assert lex(":frobnicate")[0] == (Name.Function, ":frobnicate")


def test_variables_plain_quoted_and_positional() -> None:
    tokens = lex(':put ($x . $"x-y" . $1)')
    assert (Name.Variable, "$x") in tokens
    assert (Name.Variable, '$"x-y"') in tokens
    assert (Name.Variable, "$1") in tokens
    assert (Operator, ".") in tokens


def test_command_substitution_blocks_and_arrays() -> None:
    tokens = lex(':local ids [/ip route find]; :local a {1;2;"k"=3}; {:put 1}')
    assert tokens[2:6] == [
        (Punctuation, "["),
        (Name.Namespace, "/"),
        (Name.Namespace, "ip"),
        (Name.Namespace, "route"),
    ]
    assert (Name.Function, "find") in tokens
    assert tokens.count((Punctuation, "{")) == 2
    assert tokens.count((Punctuation, "}")) == 2
    assert errors(':local ids [/ip route find]; :local a {1;2;"k"=3}; {:put 1}') == []


def test_every_string_escape_form() -> None:
    source = r':put "\" \\ \n \r \t \$ \? \_ \a \b \f \v \0A \E2"'
    escapes = [value for ttype, value in lex(source) if ttype is String.Escape]
    assert escapes == [
        r"\"", r"\\", r"\n", r"\r", r"\t", r"\$", r"\?", r"\_",
        r"\a", r"\b", r"\f", r"\v", r"\0A", r"\E2",
    ]  # fmt: skip
    assert errors(source) == []


def test_a_bad_escape_is_an_error() -> None:
    assert errors(r':put "bad \q escape"') == [r"\q"]


def test_string_interpolation_of_variables_expressions_and_commands() -> None:
    tokens = lex(':put "v=$v sum=$(1+2) n=$[:len "ab"] done"')
    interpolation = [value for ttype, value in tokens if ttype is String.Interpol]
    assert interpolation == ["$(", ")", "$[", "]"]
    assert (Name.Variable, "$v") in tokens
    assert (Keyword, ":len") in tokens
    assert (Number.Integer, "2") in tokens
    assert tokens[-1] == (String.Delimiter, '"')


def test_strings_may_span_lines() -> None:
    tokens = lex(':put "one\ntwo"\n:put 3')
    assert tokens[-2] == (Keyword, ":put")
    assert (String.Double, "two") in tokens


@pytest.mark.parametrize(
    ("literal", "ttype"),
    [
        ("42", Number.Integer),
        ("-7", Number.Integer),
        ("0x1F", Number.Hex),
        ("192.168.88.1", ADDRESS),
        ("10.0.0.0/8", ADDRESS),
        ("10.0.0.1-10.0.0.9", ADDRESS),
        ("2001:db8::1", ADDRESS),
        ("fe80::/10", ADDRESS),
        ("::ffff:10.0.0.1", ADDRESS),
        ("AA:BB:CC:DD:EE:0F", ADDRESS),
        ("1d2h3m", TIME),
        ("500ms", TIME),
        ("1w", TIME),
        ("00:05:00", TIME),
        ("1d00:00:00", TIME),
        ("*1A", Number.Id),
        ("yes", Keyword.Constant),
        ("false", Keyword.Constant),
    ],
)
def test_literal_values(literal: str, ttype: _TokenType) -> None:
    assert types_of(f"/x set value={literal} other=1", literal) == {ttype}


def test_literals_inside_expressions() -> None:
    tokens = lex(":if ($a != 1 && $t > 1h30m) do={}")
    assert (Number.Integer, "1") in tokens
    assert (TIME, "1h30m") in tokens
    assert (Operator, "!=") in tokens
    assert (Operator, "&&") in tokens


def test_a_negated_value() -> None:
    assert lex("/x add src-address=!10.0.0.0/8")[-2:] == [
        (Operator, "!"),
        (ADDRESS, "10.0.0.0/8"),
    ]


def test_words_that_only_start_like_literals_are_plain_values() -> None:
    assert types_of("/x set rt=1010:1010", "1010:1010") == {Text}
    assert types_of("/x set name=1stuplink", "1stuplink") == {Text}


def test_operators_and_filters() -> None:
    tokens = lex('/ip route print where dst-address~"^10" && !disabled')
    assert (Operator.Word, "where") in tokens
    assert (Operator, "~") in tokens
    assert (Operator, "!") in tokens
    assert (Operator, "->") in lex(":put ($a->0)")


def test_comments_at_the_start_of_a_command() -> None:
    tokens = lex("# first\n  # indented\n:put 1; # after semicolon\n")
    comments = [value for ttype, value in tokens if ttype in Comment]
    assert comments == ["# first\n", "# indented\n", "# after semicolon\n"]


def test_a_hash_inside_a_value_is_not_a_comment() -> None:
    assert types_of("/x set comment=#1", "#1") == {Text}


def test_line_continuation_keeps_the_command_going() -> None:
    tokens = lex("/ip address add \\\n    address=1.2.3.4/24 interface=ether1")
    assert (String.Escape, "\\\n") in tokens
    assert (Name.Attribute, "address") in tokens
    assert (ADDRESS, "1.2.3.4/24") in tokens


def test_a_newline_ends_the_command() -> None:
    assert lex("/ip address\nprint")[-1] == (Name.Function, "print")


@pytest.mark.parametrize("source", ["]", ":put (1]", "{:put 1)", ":put [:len 1)"])
def test_closers_that_close_nothing_are_errors(source: str) -> None:
    assert len(errors(source)) == 1


def test_a_stray_closing_brace_ends_the_script_like_routeros() -> None:
    tokens = lex("{:put 1}\n}\nignored command")
    assert errors("{:put 1}\n}\nignored command") == []
    assert tokens[-1] == (Comment, "ignored command")


def test_state_survives_lines() -> None:
    _, state = lex_line(':put "open\n', INITIAL_STATE)
    assert state != INITIAL_STATE
    more, closed = lex_line('close"\n', state)
    assert more[0][1:] == (String.Double, "close")
    assert closed == INITIAL_STATE


def test_lexer_registration() -> None:
    for alias in ("routeros", "mikrotik", "rsc"):
        assert isinstance(get_lexer_by_name(alias), RouterOSLexer)
    assert isinstance(get_lexer_for_filename("setup.rsc"), RouterOSLexer)
    assert find_lexer_class_by_name("RouterOS") is RouterOSLexer


def test_guessing_an_export() -> None:
    export = (
        "# 2024-01-01 00:00:00 by RouterOS 7.13\n/ip address\nadd address=1.1.1.1\n"
    )
    assert isinstance(guess_lexer(export), RouterOSLexer)


def test_renders_through_pygments_formatters() -> None:
    html = highlight(':put "x"\n', RouterOSLexer(), HtmlFormatter())
    assert "<span" in html


def test_pygmentize_command_line(tmp_path: Path) -> None:
    script = tmp_path / "setup.rsc"
    script.write_text("/ip address add address=10.0.0.1/24 interface=ether1\n")
    pygmentize = Path(sys.executable).parent / "pygmentize"
    result = subprocess.run(
        [str(pygmentize), "-l", "routeros", "-f", "raw", str(script)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Token.Name.Namespace\t'address'" in result.stdout
    assert "Token.Literal.Number.Address\t'10.0.0.1/24'" in result.stdout


def test_pygmentize_finds_the_lexer_by_file_name(tmp_path: Path) -> None:
    script = tmp_path / "setup.rsc"
    script.write_text(":local x 1\n")
    pygmentize = Path(sys.executable).parent / "pygmentize"
    result = subprocess.run(
        [str(pygmentize), "-N", str(script)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.stdout.strip() == "routeros"


ALPHABET = (
    ' \t\n\r\\"$[](){};=:/#.-*,!<>~&|^+%@abcdefxyz019AF\u00e9\u2028\x00\x0b\ufeff'
)


def test_never_raises_and_always_joins_back_on_random_input() -> None:
    rng = random.Random(20240501)
    lexer = RouterOSLexer()
    for _ in range(400):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 200)))
        tokens = list(lexer.get_tokens_unprocessed(text))
        assert "".join(value for _, _, value in tokens) == text
        assert all(value for _, _, value in tokens)
        assert all("\n" not in value[:-1] for _, _, value in tokens), (
            "a token spans a line break"
        )


def test_deep_nesting_is_bounded() -> None:
    text = "(" * 5000 + ")" * 5000
    tokens = list(RouterOSLexer().get_tokens_unprocessed(text))
    assert "".join(value for _, _, value in tokens) == text
    _, state = lex_line(text, INITIAL_STATE)
    assert len(state) <= 100
