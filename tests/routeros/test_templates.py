"""Per-site templates: placeholders, typed values, defaults and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdx_tui.backend.errors import InvalidInput
from sdx_tui.backend.routeros.lint import lint
from sdx_tui.backend.routeros.templates import (
    PLACEHOLDER,
    TemplateError,
    TemplateVariable,
    render_template,
    template_variables,
)

TEMPLATE = """\
/system identity set name={{@site}}
/ip address add address={{@lan:ip-prefix=192.168.88.1/24}} \\
    interface={{@bridge:name=bridge}} comment="LAN of {{@site}} ($x)"
:delay {{@settle:time=5s}}
"""


def test_no_corpus_script_contains_the_placeholder_syntax(shared_dir: Path) -> None:
    paths = sorted((shared_dir / "corpus").rglob("*.rsc"))
    assert len(paths) > 1000
    clashing = [
        path.name
        for path in paths
        if PLACEHOLDER.search(path.read_text(encoding="utf-8", errors="replace"))
        or "{{@" in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert clashing == []


def test_variables_are_listed_in_order_with_kinds_and_defaults() -> None:
    assert template_variables(TEMPLATE) == [
        TemplateVariable("site", "str", None),
        TemplateVariable("lan", "ip-prefix", "192.168.88.1/24"),
        TemplateVariable("bridge", "name", "bridge"),
        TemplateVariable("settle", "time", "5s"),
    ]
    assert [v.required for v in template_variables(TEMPLATE)] == [
        True,
        False,
        False,
        False,
    ]


def test_rendering_fills_values_and_defaults() -> None:
    rendered = render_template(TEMPLATE, {"site": "Depot 7", "settle": "1m30s"})
    assert (
        rendered
        == """\
/system identity set name="Depot 7"
/ip address add address=192.168.88.1/24 \\
    interface=bridge comment="LAN of Depot 7 ($x)"
:delay 1m30s
"""
    )
    # The unguarded add is the template author's choice; nothing else is found.
    assert [f.code for f in lint(rendered)] == ["RSC201"]


def test_text_values_cannot_break_out_of_their_place() -> None:
    hostile = 'x" ; /system reset-configuration ; :put "$y'
    rendered = render_template(TEMPLATE, {"site": hostile})
    assert "/system identity set name=" + '"x\\" ; /system reset' in rendered
    assert (
        'comment="LAN of x\\" ; /system reset-configuration ; :put \\"\\$y ($x)"'
        in (rendered)
    )
    assert {f.code for f in lint(rendered)} == {"RSC201"}


def test_extra_values_are_ignored() -> None:
    assert render_template(":put {{@a:int}}", {"a": "5", "b": "x"}) == ":put 5"


def test_every_missing_value_is_named() -> None:
    template = ":put {{@a}} {{@b:int}} {{@c=1}}"
    with pytest.raises(TemplateError, match="no value for a, b"):
        render_template(template, {})


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("int", "-42", "4.2"),
        ("bool", "yes", "maybe"),
        ("ip", "10.0.0.1", "10.0.0.256"),
        ("ip-prefix", "10.0.0.0/8", "10.0.0.1"),
        ("ipv6", "2001:db8::1", "2001:db8::g"),
        ("ipv6-prefix", "2001:db8::/32", "2001:db8::"),
        ("mac", "AA:bb:CC:00:11:22", "AA:BB:CC:00:11"),
        ("time", "1d2h3m4s", "5 minutes"),
        ("time", "500ms", "ms"),
        ("time", "00:05:00", "5:5"),
        ("name", "ether1-wan", "ether 1"),
        ("str", "anything at all", "nul\x00byte"),
    ],
)
def test_values_are_checked_by_kind(kind: str, good: str, bad: str) -> None:
    template = f":put {{{{@v:{kind}}}}}"
    assert good in render_template(template, {"v": good})
    with pytest.raises(TemplateError, match=f"v must be a valid {kind}"):
        render_template(template, {"v": bad})


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        (":put {{@v:colour}}", "unknown kind 'colour'"),
        (":put {{@ip:ip=not-an-ip}}", "default of ip is not a valid ip"),
        (":put {{@a b}}", "bad placeholder"),
        (":put {{@}}", "bad placeholder"),
        (":put 1\n:put {{@a", "line 2: a placeholder is not closed"),
        (":put {{@a:int}} {{@a:str}}", "declared twice"),
        (":put {{@a=1}} {{@a=2}}", "declared twice"),
    ],
)
def test_bad_templates_say_what_is_wrong(template: str, complaint: str) -> None:
    with pytest.raises(TemplateError, match=complaint):
        template_variables(template)


def test_a_repeated_placeholder_may_restate_its_declaration() -> None:
    template = ":put {{@a:int=1}} {{@a}} {{@a:int=1}}"
    assert template_variables(template) == [TemplateVariable("a", "int", "1")]
    assert render_template(template, {}) == ":put 1 1 1"


def test_template_errors_are_desk_errors_for_the_cli_and_the_ui() -> None:
    assert issubclass(TemplateError, InvalidInput)
