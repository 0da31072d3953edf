"""The RouterOS script linter: stable rule codes an approver can rely on.

``lint(text)`` returns :class:`Finding` objects sorted by position. Codes never
change meaning; new rules get new codes.

Syntax (error)
    RSC001 unclosed bracket, brace or parenthesis
    RSC002 a closing bracket, brace or parenthesis with nothing open to close
    RSC003 unterminated string
    RSC004 bad escape in a string (RouterOS knows ``\\" \\\\ \\n \\r \\t \\$ \\?
    \\_ \\a \\b \\f \\v`` and two capital hex digits)
    RSC005 a space before the ``=`` of a parameter (``name =value``)
    RSC006 a ``#`` comment after a command on the same line without ``;``
    RSC007 a backslash outside a string that does not end the line

Destructive commands (warning)
    RSC101 ``/system reset-configuration``
    RSC102 ``/system reboot`` or ``/system shutdown``
    RSC103 removing users (anything under ``/user`` ... ``remove``)
    RSC104 removing files (``/file remove``)
    RSC105 removing IP addresses, or disabling or removing IP services
    RSC106 disabling or removing interfaces
    RSC107 a firewall filter rule that drops or rejects input or output traffic
    without limiting it by connection state or source, which can cut the
    management path (and the device's own polls)

Idempotency (warning)
    RSC201 ``add`` with no guard: not inside a block of a command that looks
    the item up (``find``/``print``), not in an error handler (``:do ...
    on-error``, ``:onerror``, ``:retry``), and not after a ``remove`` on the
    same menu; running the script twice adds the item twice or fails
    RSC202 a bare item number (``set 0``, ``remove 1``): numbers come from the
    last interactive ``print`` and mean nothing in a script

Version (error; only with ``routeros_version``)
    RSC301 a command, menu or parameter newer than the target version
    RSC302 ``/``-separated menu paths (``/ip/address``) on RouterOS 6

Command tree (warning; only with ``schema``)
    RSC401 a menu or command that the tree does not have
    RSC402 a parameter the command does not take
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sdx_tui.backend.errors import InvalidInput
from sdx_tui.backend.routeros.scanner import (
    Command,
    Scope,
    ScopeKind,
    Word,
    WordKind,
    scan,
)
from sdx_tui.backend.routeros.schema import CommandTree
from sdx_tui.backend.routeros.versions import (
    FEATURES,
    Feature,
    RouterOSVersion,
    parse_version,
)

__all__ = [
    "RULES",
    "Finding",
    "Rule",
    "Severity",
    "has_errors",
    "lint",
]

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One lint rule: its stable code, severity and a one-line summary."""

    code: str
    severity: Severity
    summary: str


RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("RSC001", "error", "unclosed bracket, brace or parenthesis"),
        Rule("RSC002", "error", "closing bracket, brace or parenthesis without opener"),
        Rule("RSC003", "error", "unterminated string"),
        Rule("RSC004", "error", "bad escape in a string"),
        Rule("RSC005", "error", "space before '=' in a parameter"),
        Rule("RSC006", "error", "'#' comment after a command without ';'"),
        Rule("RSC007", "error", "backslash outside a string"),
        Rule("RSC101", "warning", "resets the configuration"),
        Rule("RSC102", "warning", "reboots or shuts down the device"),
        Rule("RSC103", "warning", "removes users"),
        Rule("RSC104", "warning", "removes files"),
        Rule("RSC105", "warning", "removes IP addresses or IP services"),
        Rule("RSC106", "warning", "disables or removes interfaces"),
        Rule("RSC107", "warning", "firewall rule that can cut the management path"),
        Rule("RSC201", "warning", "'add' without a find guard"),
        Rule("RSC202", "warning", "item number from an interactive print"),
        Rule("RSC301", "error", "feature newer than the target RouterOS version"),
        Rule("RSC302", "error", "'/'-separated menu path on RouterOS 6"),
        Rule("RSC401", "warning", "unknown menu or command"),
        Rule("RSC402", "warning", "unknown parameter"),
    )
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the linter reports, at a 1-based line and column."""

    code: str
    severity: Severity
    line: int
    column: int
    message: str

    @property
    def is_error(self) -> bool:
        """Whether the script should not be approved while this stands."""
        return self.severity == "error"


def has_errors(findings: Sequence[Finding]) -> bool:
    """Whether any finding is an error."""
    return any(finding.is_error for finding in findings)


# Generic verbs that end a menu path when no command tree is at hand.
_VERBS = frozenset(
    (
        *("add", "set", "remove", "print", "find", "get", "enable", "disable"),
        *("export", "edit", "comment", "move", "reset", "unset", "monitor"),
        *("reset-counters", "reset-counters-all", "run", "fetch", "reboot"),
        *("shutdown", "reset-configuration", "save", "load", "upload", "ping"),
        *("traceroute", "make-static", "release", "renew", "flush", "import"),
        *("cancel", "start", "stop", "install", "uninstall", "downgrade"),
        *("apply-changes", "clear", "check-for-updates", "download", "send"),
        *("generate-key", "sign", "monitor-traffic"),
    )
)
_QUERY_VERBS = frozenset({"find", "print"})
# Commands whose key=value words name item properties, not parameters.
_FILTER_VERBS = frozenset({"find", "print", "export", "get"})
_ERROR_HANDLERS = frozenset({"onerror", "retry"})
_DROP_ACTIONS = frozenset({"drop", "reject", "tarpit"})
# Matches that keep a drop rule away from the management path.
_NARROWING = frozenset(
    {
        "connection-state",
        "connection-nat-state",
        "src-address",
        "src-address-list",
        "src-mac-address",
    }
)
_FIREWALL_FILTERS = frozenset(
    {("ip", "firewall", "filter"), ("ipv6", "firewall", "filter")}
)
_TRUE = frozenset({"yes", "true"})


@dataclass(slots=True, eq=False)
class _Resolved:
    """What a command means once its path is known."""

    command: Command
    menu: tuple[str, ...]
    """The menu in effect where the command starts."""
    path: tuple[str, ...] = ()
    """The full path of the command, or of the menu for a path-only line."""
    is_command: bool = False
    is_ice: bool = False
    args: list[Word] = field(default_factory=list)
    queries: bool = False
    """It, or a substitution within it, looks items up."""
    skipped: bool = False
    """Not a command we can read (a function call, an expression...)."""
    unknown: bool = False
    """Its path is not in the command tree, or it runs in such a menu."""

    @property
    def verb(self) -> str:
        return self.path[-1] if self.is_command and self.path else ""

    def argument(self, key: str) -> str | None:
        for word in self.args:
            if word.key == key and word.kind in (WordKind.PLAIN, WordKind.STRING):
                return word.value
        return None

    def has_key(self, key: str) -> bool:
        return any(word.key == key for word in self.args)


class _Linter:
    def __init__(
        self,
        text: str,
        version: RouterOSVersion | None,
        schema: CommandTree | None,
    ) -> None:
        self.result = scan(text)
        self.version = version
        self.schema = schema
        self.findings: list[Finding] = []
        self.resolved: dict[Command, _Resolved] = {}
        self.scope_menus: dict[Scope, tuple[str, ...] | None] = {}

    def report(self, code: str, offset: int, message: str) -> None:
        line, column = self.result.position(offset)
        rule = RULES[code]
        self.findings.append(Finding(code, rule.severity, line, column, message))

    def run(self) -> list[Finding]:
        for problem in self.result.problems:
            self.report(problem.code, problem.offset, problem.message)
        for command in self.result.commands:
            self.resolved[command] = self.resolve(command)
        self.propagate_queries()

        removed: dict[Scope, set[tuple[str, ...]]] = {}
        for command in self.result.commands:
            item = self.resolved[command]
            if item.skipped:
                continue
            self.check_version(item)
            if not item.is_command:
                continue
            self.check_destructive(item)
            self.check_idempotency(item, removed)
        self.findings.sort(key=lambda f: (f.line, f.column, f.code))
        return self.findings

    # -- paths ---------------------------------------------------------------

    def menu_of(self, scope: Scope) -> tuple[str, ...] | None:
        """The current menu of a scope; None when it is unknown to the tree."""
        if scope in self.scope_menus:
            return self.scope_menus[scope]
        menu: tuple[str, ...] | None = ()
        owner = scope.owner
        if owner is not None:
            parent = self.resolved[owner]
            path_only = not parent.is_command and not parent.skipped
            if parent.unknown:
                menu = None
            elif scope.kind is ScopeKind.BLOCK and path_only:
                menu = parent.path
            else:
                menu = parent.menu
        self.scope_menus[scope] = menu
        return menu

    def resolve(self, command: Command) -> _Resolved:
        menu = self.menu_of(command.scope)
        item = _Resolved(command, menu or ())
        words = command.words
        first = words[0] if words else None
        head = (first.value if first is not None else None) or ""
        if menu is None and not head.startswith((":", "/")):
            item.skipped = item.unknown = True
            return item
        if (
            first is None
            or first.kind is not WordKind.PLAIN
            or first.key is not None
            or not first.value
        ):
            item.skipped = True
            return item

        head = first.value
        if head.startswith(":"):
            item.is_ice = True
            base: tuple[str, ...] = ()
            segments = [head[1:]]
        elif head.startswith("/"):
            base = ()
            segments = [part for part in head.split("/") if part]
        else:
            base = item.menu
            segments = [part for part in head.split("/") if part]
        if "/" in head.strip("/") and not item.is_ice:
            self.check_slash_path(first)

        rest = words[1:]
        if self.schema is not None:
            self.walk_schema(item, base, segments, rest, first)
        else:
            self.walk_heuristic(item, base, segments, rest)

        if not item.is_command and not item.args:
            # A line that only names a menu makes it current for what follows.
            if item.unknown:
                self.scope_menus[command.scope] = None
            elif not item.skipped:
                self.scope_menus[command.scope] = item.path
        return item

    def walk_schema(
        self,
        item: _Resolved,
        base: tuple[str, ...],
        segments: list[str],
        rest: list[Word],
        first: Word,
    ) -> None:
        assert self.schema is not None
        path = list(base)
        pending = list(segments)
        remaining = list(rest)
        offset = first.offset
        while True:
            if not pending:
                if not remaining or not _is_path_word(remaining[0]):
                    break
                word = remaining.pop(0)
                offset = word.offset
                pending.append(word.value or "")
            segment = pending.pop(0)
            if segment == "..":
                path = path[:-1]
                continue
            full = self.schema.match(path, segment)
            kind = self.schema.kind([*path, full]) if full is not None else None
            if full is None or kind is None:
                where = "/" + " ".join(path) if path else "the top level"
                self.report(
                    "RSC401",
                    offset,
                    f"unknown menu or command '{segment}' in {where}",
                )
                item.skipped = item.unknown = True
                return
            path.append(full)
            if kind == "cmd":
                item.is_command = True
                break
        item.path = tuple(path)
        item.args = remaining
        if item.is_command:
            self.check_parameters(item)

    def walk_heuristic(
        self,
        item: _Resolved,
        base: tuple[str, ...],
        segments: list[str],
        rest: list[Word],
    ) -> None:
        path = list(base)
        remaining = list(rest)
        pending = list(segments)
        if item.is_ice:
            item.path = (segments[0],)
            item.is_command = True
            item.args = remaining
            return
        while True:
            if not pending:
                if not remaining or not _is_path_word(remaining[0]):
                    break
                pending.append(remaining.pop(0).value or "")
            segment = pending.pop(0)
            if segment == "..":
                path = path[:-1]
                continue
            path.append(segment)
            if segment in _VERBS:
                item.is_command = True
                break
        if (
            not item.is_command
            and path
            and any(word.kind is not WordKind.BLOCK for word in remaining)
        ):
            # `/tool sniffer quick interface=x`: an unknown verb with arguments.
            item.is_command = True
        item.path = tuple(path)
        item.args = remaining

    def propagate_queries(self) -> None:
        for command, item in self.resolved.items():
            if not (
                item.is_command and len(item.path) > 1 and item.verb in _QUERY_VERBS
            ):
                continue
            item.queries = True
            scope = command.scope
            while scope.kind is ScopeKind.SUBSTITUTION and scope.owner is not None:
                owner = self.resolved[scope.owner]
                owner.queries = True
                scope = scope.owner.scope

    # -- rules ---------------------------------------------------------------

    def check_parameters(self, item: _Resolved) -> None:
        assert self.schema is not None
        if item.verb in _FILTER_VERBS:
            return
        for word in item.args:
            if word.key is None:
                if word.value == "where":
                    return
                continue
            key = word.key
            if not key[0].isalpha() or not key.islower():
                continue
            if self.schema.match_parameter(item.path, key) is not None:
                continue
            self.report(
                "RSC402",
                word.offset,
                f"/{' '.join(item.path)} has no parameter '{key}'",
            )

    def check_slash_path(self, word: Word) -> None:
        if self.version is not None and self.version.major < 7:
            self.report(
                "RSC302",
                word.offset,
                f"'{word.value}': menu paths separated by '/' need RouterOS 7; "
                f"the target runs {self.version}",
            )

    def check_version(self, item: _Resolved) -> None:
        if self.version is None:
            return
        offset = item.command.words[0].offset
        for feature in FEATURES:
            if self.version >= feature.since or not _uses(item, feature):
                continue
            if feature.kind == "menu" and _starts_with(item.menu, feature.path):
                continue  # reported where the menu was entered
            self.report(
                "RSC301",
                offset,
                f"{feature.description} needs RouterOS {feature.since} or later; "
                f"the target runs {self.version}",
            )

    def check_destructive(self, item: _Resolved) -> None:
        path, verb = item.path, item.verb
        offset = item.command.words[0].offset
        shown = "/" + " ".join(path)
        disables = verb == "disable" or (
            verb == "set" and (item.argument("disabled") or "") in _TRUE
        )

        if path == ("system", "reset-configuration"):
            self.report("RSC101", offset, f"{shown} wipes the device's configuration")
        elif path in (("system", "reboot"), ("system", "shutdown")):
            self.report("RSC102", offset, f"{shown} takes the device offline")
        elif path[:1] == ("user",) and verb == "remove":
            self.report("RSC103", offset, f"{shown} removes users")
        elif path == ("file", "remove"):
            self.report("RSC104", offset, f"{shown} deletes files")
        elif path[:1] in (("ip",), ("ipv6",)) and path[1:2] == ("address",):
            if verb == "remove":
                self.report("RSC105", offset, f"{shown} removes IP addresses")
        elif path[:2] == ("ip", "service") and (verb == "remove" or disables):
            self.report(
                "RSC105", offset, f"{shown} turns off IP services used for management"
            )
        elif path[:1] == ("interface",) and (verb == "remove" or disables):
            what = (
                "removes interface configuration"
                if verb == "remove"
                else "disables interfaces"
            )
            self.report("RSC106", offset, f"{shown} {what}")
        elif path[:3] in _FIREWALL_FILTERS and verb in ("add", "set"):
            self.check_firewall(item, offset)

    def check_firewall(self, item: _Resolved, offset: int) -> None:
        action = item.argument("action")
        chain = item.argument("chain")
        if action not in _DROP_ACTIONS or chain not in ("input", "output"):
            return
        if any(item.has_key(key) for key in _NARROWING):
            return
        self.report(
            "RSC107",
            offset,
            f"this rule {action}s {chain} traffic without limiting it by "
            "connection-state or source address: it can cut the management path "
            "and the device's polls",
        )

    def check_idempotency(
        self, item: _Resolved, removed: dict[Scope, set[tuple[str, ...]]]
    ) -> None:
        command = item.command
        verb = item.verb
        if item.is_ice or len(item.path) < 2:
            return
        menu = item.path[:-1]
        if verb in ("set", "remove", "enable", "disable", "get", "comment"):
            self.check_item_number(item)
        if verb == "remove":
            removed.setdefault(command.scope, set()).add(menu)
            return
        if verb != "add" or self.is_guarded(item, removed):
            return
        self.report(
            "RSC201",
            command.words[0].offset,
            f"/{' '.join(item.path)} runs unconditionally: a second run adds "
            "a duplicate or fails; guard it with [find ...] or remove the old "
            "item first",
        )

    def check_item_number(self, item: _Resolved) -> None:
        for word in item.args:
            if word.key is None and word.kind is WordKind.PLAIN and word.value:
                if word.value.isdigit():
                    self.report(
                        "RSC202",
                        word.offset,
                        f"item number {word.value} comes from the last interactive "
                        "print; in a script, use [find ...] instead",
                    )
                return

    def is_guarded(
        self, item: _Resolved, removed: dict[Scope, set[tuple[str, ...]]]
    ) -> bool:
        menu = item.path[:-1]
        scope = item.command.scope
        while True:
            if menu in removed.get(scope, ()):
                return True
            owner = scope.owner
            if owner is None:
                return False
            parent = self.resolved[owner]
            if scope.kind is ScopeKind.BLOCK and (
                parent.queries or _handles_errors(parent)
            ):
                return True
            scope = owner.scope


def _is_path_word(word: Word) -> bool:
    value = word.value
    return (
        word.key is None
        and word.kind is WordKind.PLAIN
        and value is not None
        and (
            value == ".." or (value[:1].isalpha() and value.replace("-", "").isalnum())
        )
    )


def _handles_errors(item: _Resolved) -> bool:
    if not item.is_command:
        return False
    if item.path == ("do",):
        return item.has_key("on-error")
    return len(item.path) == 1 and item.path[0] in _ERROR_HANDLERS


def _starts_with(path: tuple[str, ...], prefix: tuple[str, ...]) -> bool:
    return path[: len(prefix)] == prefix


def _uses(item: _Resolved, feature: Feature) -> bool:
    if feature.kind == "syntax":
        return False  # checked where the path is read
    path = item.path
    if feature.kind == "command":
        return item.is_command and path == feature.path
    if feature.kind == "menu":
        return _starts_with(path, feature.path)
    *command, parameter = feature.path
    return (
        item.is_command
        and path == tuple(command)
        and any(
            word.key == parameter or (word.key is None and word.value == parameter)
            for word in item.args
        )
    )


def lint(
    text: str,
    *,
    routeros_version: str | None = None,
    schema: CommandTree | None = None,
) -> list[Finding]:
    """Check a RouterOS script; findings come sorted by line and column.

    ``routeros_version`` enables the version rules (RSC3xx) for that target;
    ``schema`` enables the command-tree rules (RSC4xx).
    """
    version = None
    if routeros_version is not None:
        try:
            version = parse_version(routeros_version)
        except ValueError as error:
            raise InvalidInput(str(error)) from error
    return _Linter(text, version, schema).run()
