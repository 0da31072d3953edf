"""The linting scanner: commands, scopes, words and string spans."""

from __future__ import annotations

from sdx_tui.backend.routeros.scanner import ScopeKind, WordKind, scan


def test_commands_come_in_source_order_with_their_words() -> None:
    result = scan('/ip address add address=10.0.0.1/24 comment="a b"; :put $x\n')
    first, second = result.commands
    assert [(w.key, w.kind, w.value) for w in first.words] == [
        (None, WordKind.PLAIN, "/ip"),
        (None, WordKind.PLAIN, "address"),
        (None, WordKind.PLAIN, "add"),
        ("address", WordKind.PLAIN, "10.0.0.1/24"),
        ("comment", WordKind.STRING, "a b"),
    ]
    assert [(w.value, w.kind) for w in second.words] == [
        (":put", WordKind.PLAIN),
        (None, WordKind.VARIABLE),
    ]
    assert first.scope is second.scope
    assert first.scope.kind is ScopeKind.TOP


def test_blocks_and_substitutions_open_scopes_owned_by_their_command() -> None:
    result = scan(":if ([:len [find]] = 0) do={ add name=x }\n")
    by_head = {c.words[0].value: c for c in result.commands}
    if_, len_, find, add = (by_head[k] for k in (":if", ":len", "find", "add"))
    assert len_.scope.kind is ScopeKind.SUBSTITUTION and len_.scope.owner is if_
    assert find.scope.owner is len_
    assert add.scope.kind is ScopeKind.BLOCK
    assert add.scope.owner is if_ and add.scope.key == "do"
    assert [w.kind for w in if_.words[1:]] == [WordKind.EXPRESSION, WordKind.BLOCK]


def test_arrays_hold_no_commands() -> None:
    result = scan(':local a {1;"two";{3}}\n:foreach i in={4;5} do={ :put $i }\n')
    heads = [c.words[0].value for c in result.commands]
    assert heads == [":local", ":foreach", ":put"]


def test_glued_pieces_make_one_mixed_word() -> None:
    (command,) = scan(':put ("a" . $b)x name=pre$var\n').commands
    assert [(w.key, w.kind) for w in command.words[1:]] == [
        (None, WordKind.MIXED),
        ("name", WordKind.MIXED),
    ]


def test_string_content_is_told_from_code() -> None:
    text = ':put "a $[:len "bc"] d"; :put x\n'
    result = scan(text)
    assert result.is_string_content(text.index("a "))
    assert not result.is_string_content(text.index(":len"))
    assert result.is_string_content(text.index("bc"))
    assert result.is_string_content(text.index(" d"))
    assert not result.is_string_content(text.index("x"))


def test_positions_count_lines_and_columns_from_one() -> None:
    result = scan("a\r\nbc\rd\n")
    assert result.position(0) == (1, 1)
    assert result.position(4) == (2, 2)
    assert result.position(6) == (3, 1)


def test_any_input_scans_without_crashing() -> None:
    samples = ["", "\\", '"', "$", "$[", '$"', "{{{", ")]}", "#", "\x00\xff", "\u00a0"]
    for text in samples:
        scan(text)
        scan(text * 3 + "\n" + text)
