"""Each lint rule on small scripts: what it reports, and what it leaves alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdx_tui.backend.errors import InvalidInput
from sdx_tui.backend.routeros.lint import RULES, Finding, has_errors, lint
from sdx_tui.backend.routeros.schema import CommandTree, load_schema


def codes(text: str, **options: object) -> list[str]:
    return [finding.code for finding in lint(text, **options)]  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tree(shared_dir: Path) -> CommandTree:
    return load_schema(shared_dir / "schema" / "routeros-7.22.3-inspect.json")


def test_every_rule_code_is_documented_in_the_module() -> None:
    from sdx_tui.backend.routeros import lint as module

    assert module.__doc__ is not None
    for code, rule in RULES.items():
        assert code in module.__doc__
        assert rule.severity in ("error", "warning", "info")


def test_a_clean_script_has_no_findings() -> None:
    script = """\
# set the identity
/system identity set name="core-1"
:local count [:len [/ip address find]]
:if ($count = 0) do={ :log warning "no address" } else={ :put "ok: $count" }
"""
    assert lint(script) == []


def test_findings_carry_one_based_positions_and_come_sorted() -> None:
    findings = lint(':put "ok"\n:put (1 + 2\n  /system reboot\n')
    assert findings[0] == Finding(
        "RSC001", "error", 2, 6, "unclosed parenthesis '(': no matching ')'"
    )
    assert [(f.line, f.column) for f in findings] == sorted(
        (f.line, f.column) for f in findings
    )
    assert has_errors(findings)


# -- syntax ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "code", "line", "column"),
    [
        (":put [:len $x\n", "RSC001", 1, 6),
        (':if ($a = 1) do={\n  :put "a"\n', "RSC001", 1, 17),
        (":put (1 + 2\n", "RSC001", 1, 6),
        (":put 1]\n", "RSC002", 1, 7),
        ("}\n", "RSC002", 1, 1),
        (":put [:len (1 + 2]\n", "RSC001", 1, 12),
        (':put "abc\n:put "x"\n', "RSC003", 2, 8),
        (':put "tab\\x"\n', "RSC004", 1, 10),
        (':put "hex\\0a"\n', "RSC004", 1, 10),
        ("/ip address add address =10.0.0.1/24\n", "RSC005", 1, 25),
        ('/system identity set name="x" # trailing\n', "RSC006", 1, 31),
        (":put \\n\n", "RSC007", 1, 6),
        (':log info "x: $[:pick ($r->\\"k\\") 0 1]"\n', "RSC007", 1, 28),
    ],
)
def test_syntax_errors_are_found_where_they_are(
    script: str, code: str, line: int, column: int
) -> None:
    findings = [f for f in lint(script) if f.code == code]
    assert findings, lint(script)
    assert (findings[0].line, findings[0].column) == (line, column)
    assert findings[0].severity == "error"


@pytest.mark.parametrize(
    "script",
    [
        ':put "quote \\" slash \\\\ dollar \\$ q \\? nl \\n cr \\r tab \\t \\_ \\a"\n',
        ':put "bytes \\E2\\9A\\99 and \\1B"\n',
        ':put "a $[:pick "xyz" 0 1] b $(1 + 2) c $x d"\n',
        ':local "my-var" 1; :put $"my-var"\n',
        ":put (1 + \\\n  2)\n",
        "/ip firewall filter add chain=input comment=#1\n",
        ":put 1; # a comment after a semicolon\n",
        "    # an indented comment\n{\n  # first in a block\n  :put 1\n}\n",
        ":if ($a = 1 and $b != 2) do={ :put ($a <= $b) }\n",
        "/ip route print where gateway = 1.1.1.1\n",
        ':local s "line one\nline two"\n',
        ":local a {1;2;{3;4}}; :put ($a->2->0)\n",
    ],
)
def test_valid_syntax_is_not_reported(script: str) -> None:
    assert [f for f in lint(script) if f.is_error] == []


def test_a_mismatched_closer_reports_the_opener_it_skips() -> None:
    findings = lint(":if ([:len $x) = 0) do={}\n")
    assert [(f.code, f.column) for f in findings if f.is_error] == [
        ("RSC001", 6),
        ("RSC002", 19),
    ]


# -- destructive ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "code"),
    [
        ("/system reset-configuration no-defaults=yes\n", "RSC101"),
        ("/system/reboot\n", "RSC102"),
        ("/system\nshutdown\n", "RSC102"),
        ('/user remove [find name="old"]\n', "RSC103"),
        ("/user group remove [find name=ops]\n", "RSC103"),
        ('/file remove [find name~"backup"]\n', "RSC104"),
        ("/ip address remove [find interface=ether1]\n", "RSC105"),
        ("/ipv6 address remove [find]\n", "RSC105"),
        ("/ip service disable ssh\n", "RSC105"),
        ("/ip service set winbox disabled=yes\n", "RSC105"),
        ("/interface disable ether1\n", "RSC106"),
        ("/interface ethernet set [find] disabled=yes\n", "RSC106"),
        ("/interface bridge port remove [find interface=ether2]\n", "RSC106"),
        ("/ip firewall filter add chain=input action=drop\n", "RSC107"),
        (
            "/ip firewall filter add chain=input action=drop in-interface-list=!LAN\n",
            "RSC107",
        ),
        ("/ipv6 firewall filter add chain=output action=reject\n", "RSC107"),
    ],
)
def test_destructive_commands_are_warned_about(script: str, code: str) -> None:
    findings = [f for f in lint(script) if f.code == code]
    assert len(findings) == 1, lint(script)
    assert findings[0].severity == "warning"


@pytest.mark.parametrize(
    "script",
    [
        "/system identity print\n",
        "/interface enable ether1\n",
        "/interface ethernet set ether1 mtu=1500\n",
        "/ip service set www port=8080\n",
        "/ip firewall filter add chain=input action=drop connection-state=invalid\n",
        "/ip firewall filter add chain=input action=drop src-address-list=bad\n",
        "/ip firewall filter add chain=forward action=drop\n",
        "/ip firewall filter add chain=input action=accept\n",
        "/ip firewall filter add chain=input action=$verdict\n",
    ],
)
def test_harmless_commands_are_not_called_destructive(script: str) -> None:
    found = {f.code for f in lint(script)}
    assert not found & {"RSC101", "RSC102", "RSC103", "RSC104", "RSC105", "RSC106"}
    assert "RSC107" not in found


def test_destructive_rules_follow_the_current_menu() -> None:
    script = (
        "/ip address\nremove [find]\n/user\n:foreach u in=[find] do={ remove $u }\n"
    )
    assert codes(script) == ["RSC105", "RSC103"]


# -- idempotency -------------------------------------------------------------


def test_an_unguarded_add_is_reported() -> None:
    findings = lint("/ip address add address=10.0.0.1/24 interface=ether1\n")
    assert [(f.code, f.severity) for f in findings] == [("RSC201", "warning")]


@pytest.mark.parametrize(
    "script",
    [
        # The block of a command that looks the item up.
        '/interface bridge\n:if ([:len [find name="br1"]] = 0) do={ add name=br1 }\n',
        ':if ([/ip address find address="10.0.0.1/24"] = "") do={\n'
        "  /ip address add address=10.0.0.1/24 interface=ether1\n}\n",
        # An error handler.
        ":do { /ip pool add name=p ranges=10.0.0.2-10.0.0.9 } on-error={}\n",
        ":onerror e in={ /ip pool add name=p ranges=10.0.0.2-10.0.0.9 } do={}\n",
        # Removing the old item first, on the same menu.
        '/system script remove [find name="x"]\n/system script add name=x\n',
        "/ip dns static\nremove [find comment=sdx]\nadd name=a address=1.2.3.4\n",
    ],
)
def test_guarded_adds_are_left_alone(script: str) -> None:
    assert "RSC201" not in codes(script)


def test_a_remove_on_another_menu_does_not_guard_an_add() -> None:
    script = "/ip pool remove [find]\n/ip address add address=10.0.0.1/24\n"
    assert "RSC201" in codes(script)


def test_the_string_find_command_is_not_a_guard() -> None:
    script = ':if ([:find "abc" "b"] = 1) do={ /ip pool add name=p ranges=1.1.1.1 }\n'
    assert "RSC201" in codes(script)


def test_item_numbers_from_print_are_reported() -> None:
    assert codes("/ip route set 0 gateway=1.1.1.1\n") == ["RSC202"]
    assert codes("/ip route set [find] gateway=1.1.1.1\n") == []
    assert codes(":set x 0\n") == []


# -- versions ----------------------------------------------------------------


def test_onerror_needs_7_13() -> None:
    script = ":onerror e in={ :put 1 } do={ :put $e }\n"
    assert codes(script, routeros_version="7.12.1") == ["RSC301"]
    assert codes(script, routeros_version="7.13") == []
    assert codes(script) == []


def test_execute_as_string_needs_7_8() -> None:
    script = ':local out [:execute script=":put 1" as-string]\n'
    findings = lint(script, routeros_version="7.7")
    assert [f.code for f in findings] == ["RSC301"]
    assert "7.8" in findings[0].message and "7.7" in findings[0].message
    assert codes(script, routeros_version="7.8") == []
    assert codes(':execute script=":put 1"\n', routeros_version="7.7") == []


def test_slash_paths_need_routeros_7() -> None:
    assert codes("/ip/address/print\n", routeros_version="6.49.10") == ["RSC302"]
    assert codes("/ip address print\n", routeros_version="6.49.10") == []
    assert codes("/ip/address/print\n", routeros_version="7.1") == []


def test_newer_menus_are_reported_once_where_entered() -> None:
    script = "/interface wifi\nset [find] disabled=no\nprint\n"
    assert codes(script, routeros_version="7.12") == ["RSC301"]
    assert codes(script, routeros_version="7.13") == []


def test_a_pre_release_comes_before_its_release() -> None:
    script = ":onerror e in={ :put 1 } do={}\n"
    assert codes(script, routeros_version="7.13rc2") == ["RSC301"]
    assert codes(script, routeros_version="7.14beta1") == []


def test_a_bad_version_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not a RouterOS version"):
        lint(":put 1\n", routeros_version="seven")


# -- command tree ------------------------------------------------------------


def test_unknown_menus_and_commands_are_warnings(tree: CommandTree) -> None:
    findings = lint("/ip adress print\n:foobar 1\n", schema=tree)
    assert [(f.code, f.severity, f.line, f.column) for f in findings] == [
        ("RSC401", "warning", 1, 5),
        ("RSC401", "warning", 2, 1),
    ]
    assert "'adress' in /ip" in findings[0].message


def test_unknown_parameters_are_warnings(tree: CommandTree) -> None:
    findings = lint(
        "/ip address add address=10.0.0.1/24 interfce=ether1\n", schema=tree
    )
    assert [f.code for f in findings] == ["RSC201", "RSC402"]
    assert findings[1].message == "/ip address add has no parameter 'interfce'"


def test_the_tree_accepts_what_routeros_accepts(tree: CommandTree) -> None:
    script = """\
/ip fire filter print
/ip firewall nat add chain=srcnat action=src-nat to-address=1.2.3.4
/ip/address/print where interface=ether1
[find name=x]
:log info "x"
:foreach i in=[/interface find] do={ :put [/interface get $i name] }
/ip route print where routing-table=main
"""
    found = [f for f in lint(script, schema=tree) if f.code in ("RSC401", "RSC402")]
    assert found == []


def test_commands_in_an_unknown_menu_are_not_reported_again(tree: CommandTree) -> None:
    script = "/interface wifiwave2\nset [find] ssid=x\nprint\n"
    assert codes(script, schema=tree) == ["RSC401"]


@pytest.mark.parametrize("with_tree", [False, True])
def test_a_menu_followed_by_a_block_runs_the_block_there(
    with_tree: bool, tree: CommandTree
) -> None:
    script = "/ip address {\n  add address=10.0.0.1/24 interface=ether1\n}\n"
    findings = lint(script, schema=tree if with_tree else None)
    assert [f.message.split(" runs")[0] for f in findings] == ["/ip address add"]


def test_relative_paths_and_parent_menus_resolve(tree: CommandTree) -> None:
    script = "/ip firewall\nfilter print\n.. address print\n"
    assert codes(script, schema=tree) == []
