"""Errors the backend raises for people to read.

Each carries a message fit to show as it is, in a toast or on one CLI line.
"""

from __future__ import annotations


class DeskError(Exception):
    """A request the desk refuses, with a message for the person who made it."""

    exit_code = 2
    """What the CLI exits with when this ends a command."""


class NotFound(DeskError):
    """The named site, script, user or run does not exist."""


class InvalidInput(DeskError):
    """A value given by a person cannot be used."""


class PermissionDenied(DeskError):
    """The person lacks the role, or the four-eyes rule forbids the act."""

    exit_code = 1


class IllegalTransition(DeskError):
    """A state change the lifecycle does not allow from the current state."""

    exit_code = 1

    def __init__(self, kind: str, ident: int, current: str, wanted: str) -> None:
        super().__init__(f"{kind} {ident} is {current}; it cannot become {wanted}")
        self.kind = kind
        self.ident = ident
        self.current = current
        self.wanted = wanted
