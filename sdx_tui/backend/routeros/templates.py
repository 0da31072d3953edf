"""Per-site templates: RouterOS script with typed placeholders.

A placeholder is ``{{@name}}``, ``{{@name:kind}}``, ``{{@name=default}}`` or
``{{@name:kind=default}}``. ``{{@`` never appears in RouterOS script (no script
of the shared corpus contains it), so template text and code cannot be
confused. A name is declared by its first placeholder; later ones may repeat
the declaration or just write ``{{@name}}``.

Kinds, checked before anything is rendered:

=========== ==============================================================
str         any text (the default kind)
int         a whole number
bool        yes, no, true or false
ip          an IPv4 address
ip-prefix   an IPv4 network, ``192.168.88.0/24``
ipv6        an IPv6 address
ipv6-prefix an IPv6 network
mac         a MAC address, ``AA:BB:CC:DD:EE:FF``
time        a RouterOS time, ``30s``, ``1h30m``, ``1d``, ``00:05:00``
name        letters, digits, ``_``, ``.`` and ``-`` (interface names, ...)
=========== ==============================================================

A ``str`` value is escaped for RouterOS: inside a quoted string it becomes
escaped text; elsewhere it becomes a complete quoted string. Other kinds are
written as they are, which their check makes safe.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sdx_tui.backend.errors import InvalidInput
from sdx_tui.backend.routeros.quoting import escape, quote
from sdx_tui.backend.routeros.scanner import scan

__all__ = [
    "KINDS",
    "PLACEHOLDER",
    "TemplateError",
    "TemplateVariable",
    "render_template",
    "template_variables",
]

PLACEHOLDER = re.compile(r"\{\{@(?P<spec>.*?)\}\}")
"""A placeholder anywhere in a template."""

_OPENING = re.compile(r"\{\{@")
_SPEC = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]{0,63})"
    r"(?::(?P<kind>[a-z0-9-]+))?"
    r"(?:=(?P<default>.*))?",
    re.DOTALL,
)


class TemplateError(InvalidInput):
    """A template that cannot be read, or values that do not fit it."""


def _is_ip(
    cls: type[ipaddress.IPv4Address | ipaddress.IPv6Address],
) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            cls(value)
        except ValueError:
            return False
        return True

    return check


def _is_network(
    cls: type[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        if "/" not in value:
            return False
        try:
            cls(value, strict=False)
        except ValueError:
            return False
        return True

    return check


def _matches(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda value: compiled.fullmatch(value) is not None


KINDS: dict[str, Callable[[str], bool]] = {
    "str": lambda value: "\x00" not in value,
    "int": _matches(r"-?[0-9]{1,18}"),
    "bool": _matches(r"yes|no|true|false"),
    "ip": _is_ip(ipaddress.IPv4Address),
    "ip-prefix": _is_network(ipaddress.IPv4Network),
    "ipv6": _is_ip(ipaddress.IPv6Address),
    "ipv6-prefix": _is_network(ipaddress.IPv6Network),
    "mac": _matches(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}"),
    "time": _matches(
        r"(?=\d)(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m(?!s))?(?:\d+s)?(?:\d+ms)?"
        r"|\d{1,2}:\d{2}:\d{2}"
    ),
    "name": _matches(r"[A-Za-z0-9_.-]{1,128}"),
}
"""Each kind and the check its values must pass."""


@dataclass(frozen=True, slots=True)
class TemplateVariable:
    """A variable a template declares."""

    name: str
    kind: str = "str"
    default: str | None = None

    @property
    def required(self) -> bool:
        """A value must be given: there is no default."""
        return self.default is None


@dataclass(frozen=True, slots=True)
class _Placeholder:
    start: int
    end: int
    variable: TemplateVariable
    declares_kind: bool
    declares_default: bool


def _line_of(content: str, offset: int) -> int:
    return content.count("\n", 0, offset) + 1


def _placeholders(content: str) -> list[_Placeholder]:
    found: list[_Placeholder] = []
    covered = 0
    for match in PLACEHOLDER.finditer(content):
        stray = _OPENING.search(content, covered, match.start())
        if stray is not None:
            raise TemplateError(
                f"line {_line_of(content, stray.start())}: a placeholder is not "
                "closed with '}}'"
            )
        spec = _SPEC.fullmatch(match["spec"])
        if spec is None:
            raise TemplateError(
                f"line {_line_of(content, match.start())}: bad placeholder "
                f"{match.group()!r}: write {{{{@name}}}}, {{{{@name:kind}}}} or "
                "{{@name:kind=default}}"
            )
        kind = spec["kind"] or "str"
        if kind not in KINDS:
            raise TemplateError(
                f"line {_line_of(content, match.start())}: unknown kind {kind!r} "
                f"for {spec['name']}; use one of {', '.join(KINDS)}"
            )
        variable = TemplateVariable(spec["name"], kind, spec["default"])
        found.append(
            _Placeholder(
                match.start(),
                match.end(),
                variable,
                spec["kind"] is not None,
                spec["default"] is not None,
            )
        )
        covered = match.end()

    stray = _OPENING.search(content, covered)
    if stray is not None:
        raise TemplateError(
            f"line {_line_of(content, stray.start())}: a placeholder is not "
            "closed with '}}'"
        )
    return found


def _declarations(placeholders: list[_Placeholder]) -> dict[str, TemplateVariable]:
    declared: dict[str, TemplateVariable] = {}
    for placeholder in placeholders:
        variable = placeholder.variable
        known = declared.get(variable.name)
        if known is None:
            if variable.default is not None and not KINDS[variable.kind](
                variable.default
            ):
                raise TemplateError(
                    f"the default of {variable.name} is not a valid "
                    f"{variable.kind}: {variable.default!r}"
                )
            declared[variable.name] = variable
            continue
        if (placeholder.declares_kind and variable.kind != known.kind) or (
            placeholder.declares_default and variable.default != known.default
        ):
            raise TemplateError(
                f"{variable.name} is declared twice in different ways; declare "
                "it once and write {{@" + variable.name + "}} elsewhere"
            )
    return declared


def template_variables(content: str) -> list[TemplateVariable]:
    """The variables a template declares, in order of first use."""
    return list(_declarations(_placeholders(content)).values())


def render_template(content: str, values: Mapping[str, str]) -> str:
    """The template with every placeholder replaced by its checked value.

    Values for names the template does not use are ignored. Raises
    :class:`TemplateError` naming every missing value, or the first invalid one.
    """
    placeholders = _placeholders(content)
    declared = _declarations(placeholders)

    missing = [
        name
        for name, variable in declared.items()
        if variable.required and name not in values
    ]
    if missing:
        raise TemplateError(f"no value for {', '.join(missing)}")
    chosen: dict[str, str] = {}
    for name, variable in declared.items():
        value = values.get(name, variable.default)
        assert value is not None
        if not KINDS[variable.kind](value):
            raise TemplateError(
                f"{name} must be a valid {variable.kind}, not {value!r}"
            )
        chosen[name] = value

    in_string = _string_positions(content, placeholders)
    pieces: list[str] = []
    position = 0
    for placeholder, quoted in zip(placeholders, in_string, strict=True):
        variable = declared[placeholder.variable.name]
        value = chosen[variable.name]
        if variable.kind == "str":
            value = escape(value) if quoted else quote(value)
        pieces += [content[position : placeholder.start], value]
        position = placeholder.end
    pieces.append(content[position:])
    return "".join(pieces)


def _string_positions(content: str, placeholders: list[_Placeholder]) -> list[bool]:
    """Whether each placeholder sits inside a quoted string."""
    if not any(p.variable.kind == "str" for p in placeholders):
        return [False] * len(placeholders)
    # Braces in the placeholders would read as blocks: blank them out first.
    neutral = list(content)
    for placeholder in placeholders:
        neutral[placeholder.start : placeholder.end] = "_" * (
            placeholder.end - placeholder.start
        )
    result = scan("".join(neutral))
    return [result.is_string_content(p.start) for p in placeholders]
