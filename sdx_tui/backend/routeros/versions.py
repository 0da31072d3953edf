"""RouterOS version numbers, and the script features that need a newer one.

Versions look like ``6.49.10``, ``7.13``, ``7.14beta3`` or ``7.15rc2``; a
pre-release sorts before its release (``7.13rc1 < 7.13``). ``7`` alone means
``7.0``: when only the major version is known, no feature of a later minor
release can be relied on.

The feature table is deliberately short: only facts we are sure of. Anything
else a device lacks is caught by checking paths against the command tree of
the target version (``sdx schema fetch``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

__all__ = [
    "FEATURES",
    "Feature",
    "RouterOSVersion",
    "is_valid_version",
    "parse_version",
]

_VERSION = re.compile(
    r"(?P<major>\d{1,2})(?:\.(?P<minor>\d{1,3}))?(?:\.(?P<patch>\d{1,3}))?"
    r"(?:(?P<stage>beta|rc)(?P<number>\d{1,3}))?"
)
_STAGES = {"beta": 0, "rc": 1, None: 2}


class RouterOSVersion(NamedTuple):
    """A comparable RouterOS version."""

    major: int
    minor: int = 0
    patch: int = 0
    stage: int = 2
    """0 beta, 1 release candidate, 2 release."""
    number: int = 0

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}"
        if self.patch:
            text += f".{self.patch}"
        if self.stage < 2:
            text += f"{'beta' if self.stage == 0 else 'rc'}{self.number}"
        return text


def parse_version(text: str) -> RouterOSVersion:
    """Parse ``7.13.2``, ``7.14beta3``, ``6.49`` or ``7``; ValueError otherwise."""
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"not a RouterOS version: {text!r} (expected e.g. 7.13, 7.15.3 or 6.49.10)"
        )
    return RouterOSVersion(
        int(match["major"]),
        int(match["minor"] or 0),
        int(match["patch"] or 0),
        _STAGES[match["stage"]],
        int(match["number"] or 0),
    )


def is_valid_version(text: str) -> bool:
    """Whether ``text`` is a version with at least a minor number (safe in a path)."""
    match = _VERSION.fullmatch(text)
    return match is not None and match["minor"] is not None


@dataclass(frozen=True, slots=True)
class Feature:
    """A command, menu or parameter that appeared in a given release."""

    kind: Literal["command", "menu", "parameter", "syntax"]
    path: tuple[str, ...]
    """The command or menu path; for a parameter, the command path plus its name."""
    since: RouterOSVersion
    description: str


FEATURES: tuple[Feature, ...] = (
    Feature(
        "syntax",
        ("slash-path",),
        RouterOSVersion(7, 0),
        "menu paths separated by '/' (such as /ip/address)",
    ),
    Feature("command", ("onerror",), RouterOSVersion(7, 13), "the :onerror command"),
    Feature(
        "parameter",
        ("execute", "as-string"),
        RouterOSVersion(7, 8),
        ":execute ... as-string",
    ),
    Feature("menu", ("interface", "wifi"), RouterOSVersion(7, 13), "/interface wifi"),
    Feature(
        "menu",
        ("interface", "wireguard"),
        RouterOSVersion(7, 1),
        "/interface wireguard",
    ),
    Feature("menu", ("container",), RouterOSVersion(7, 1), "/container"),
    Feature("menu", ("zerotier",), RouterOSVersion(7, 1), "/zerotier"),
    Feature(
        "menu",
        ("routing", "bgp", "connection"),
        RouterOSVersion(7, 0),
        "/routing bgp connection",
    ),
)
