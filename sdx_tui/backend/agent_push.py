"""Installing the polling agent on a device through the RouterOS API.

The agent is the pair of entries the installer script adds
(:func:`~sdx_tui.backend.routeros.render.agent_entries`); here they are added
over the API port (8728, or 8729 with TLS) instead of pasted into a terminal.
The old ``sdx-agent`` entries are removed first, and the new ones are printed
back and compared before the push counts as done.

Everything here blocks on the network: a caller with an event loop runs it in
a worker thread. Neither the password nor the token ever reaches a log line or
an error message; errors of the routeros-api library are not passed on as
they are, because their text quotes the whole command, password and script
source included.
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import routeros_api
from routeros_api import exceptions

from sdx_tui.backend.errors import DeskError
from sdx_tui.backend.routeros.render import AgentEntries, agent_entries

__all__ = [
    "API_PORT",
    "API_SSL_PORT",
    "AgentNotVerified",
    "AgentPushError",
    "DeviceDisconnected",
    "DeviceLoginFailed",
    "DeviceRefused",
    "DeviceTimedOut",
    "DeviceUnreachable",
    "PushResult",
    "check_login",
    "push_agent",
]

log = logging.getLogger(__name__)

API_PORT = 8728
"""The RouterOS ``api`` service."""

API_SSL_PORT = 8729
"""The RouterOS ``api-ssl`` service."""

SCRIPT_MENU = "/system/script"
SCHEDULER_MENU = "/system/scheduler"

_DURATION = re.compile(
    r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?"
)
_CLOCK = re.compile(r"(?:(\d+)d\s*)?(\d+):(\d\d):(\d\d)")
_INCOMPLETE = (
    ". The agent on the device is incomplete now: push again, or paste the "
    "installer from `sdx site agent-script`."
)


class AgentPushError(DeskError):
    """The agent could not be pushed; the message says where it stopped."""

    exit_code = 1


class DeviceUnreachable(AgentPushError):
    """No API session: the port refused, the host is unknown, or TLS failed."""


class DeviceTimedOut(AgentPushError):
    """The device did not answer in time."""


class DeviceLoginFailed(AgentPushError):
    """The device refused the user name or password."""


class DeviceDisconnected(AgentPushError):
    """The device closed the connection or ended the session mid-way."""


class DeviceRefused(AgentPushError):
    """The device answered a command with an error (``!trap``)."""


class AgentNotVerified(AgentPushError):
    """What the device reads back is not the agent that was pushed."""


@dataclass(frozen=True, slots=True)
class PushResult:
    """What :func:`push_agent` did on the device."""

    site_name: str
    address: str
    port: int
    script_id: str
    """RouterOS ``.id`` of the new ``/system script`` entry."""
    scheduler_id: str
    """RouterOS ``.id`` of the new ``/system scheduler`` entry."""
    interval_seconds: int
    removed_scripts: int
    """Old agent scripts removed first."""
    removed_schedulers: int
    """Old agent scheduler entries removed first."""

    @property
    def replaced(self) -> bool:
        """An agent was on the device before."""
        return bool(self.removed_scripts or self.removed_schedulers)

    def describe(self) -> str:
        """One line for a person: what is on the device now."""
        before = (
            "the old agent was replaced" if self.replaced else "there was none before"
        )
        return (
            f"agent installed on {self.site_name} through {self.address}:{self.port}"
            f" (script {self.script_id}, scheduler {self.scheduler_id}, a poll every"
            f" {self.interval_seconds} s); {before}"
        )


def push_agent(
    *,
    address: str,
    port: int | None = None,
    username: str,
    password: str,
    site_name: str,
    base_url: str,
    token: str,
    interval_seconds: int,
    use_ssl: bool = False,
    ca_file: str | None = None,
    timeout: float = 10.0,
) -> PushResult:
    """Install the agent for ``site_name`` on the device at ``address``.

    ``port`` defaults to 8728, or 8729 with ``use_ssl``. With TLS the device's
    certificate is checked against the system's authorities, or only against
    ``ca_file`` (PEM) when given, which also turns TLS on. Raises
    :class:`~sdx_tui.backend.errors.InvalidInput` for values that cannot go
    into the agent (before connecting), and an :class:`AgentPushError` for
    anything that went wrong on the way to the device.
    """
    agent = agent_entries(
        site_name=site_name,
        base_url=base_url,
        token=token,
        interval_seconds=interval_seconds,
    )
    with _session(
        address, port, username, password, use_ssl, ca_file, timeout
    ) as device:
        old_schedulers = device.ids(SCHEDULER_MENU, agent.name)
        old_scripts = device.ids(SCRIPT_MENU, agent.name)
        device.remove(SCHEDULER_MENU, old_schedulers, "the old agent's scheduler")
        device.remove(SCRIPT_MENU, old_scripts, "the old agent script")

        script_id = device.add(SCRIPT_MENU, agent.script_fields, "the agent script")
        scheduler_id = device.add(
            SCHEDULER_MENU, agent.scheduler_fields, "the agent's scheduler"
        )
        device.hint = ""
        _verify(device, agent)

    result = PushResult(
        site_name=site_name,
        address=address,
        port=device.port,
        script_id=script_id,
        scheduler_id=scheduler_id,
        interval_seconds=interval_seconds,
        removed_scripts=len(old_scripts),
        removed_schedulers=len(old_schedulers),
    )
    log.info(
        "agent pushed to site %s at %s:%d (%d old entries replaced)",
        site_name,
        address,
        device.port,
        len(old_scripts) + len(old_schedulers),
    )
    return result


def check_login(
    *,
    address: str,
    port: int | None = None,
    username: str,
    password: str,
    use_ssl: bool = False,
    ca_file: str | None = None,
    timeout: float = 10.0,
) -> None:
    """Log in to the device's API and out again; the errors of :func:`push_agent`.

    Lets a caller find a wrong password or a closed port before it changes
    anything, such as the site's token.
    """
    with _session(address, port, username, password, use_ssl, ca_file, timeout):
        pass


# -- the API session -----------------------------------------------------------


class _Device:
    """An API session that turns the library's errors into ours."""

    def __init__(self, api: Any, where: str, port: int, timeout: float) -> None:
        self.api = api
        self.where = where
        self.port = port
        self.timeout = timeout
        self.hint = ""
        """Appended to an error: what state a failure leaves the device in."""

    def ids(self, menu: str, name: str) -> list[str]:
        return [str(row["id"]) for row in self.print(menu, name)]

    def print(self, menu: str, name: str) -> list[dict[str, str]]:
        with _failures(self, f"reading {menu}"):
            rows = self.api.get_resource(menu).get(name=name)
        return [{str(key): str(value) for key, value in row.items()} for row in rows]

    def remove(self, menu: str, ids: list[str], what: str) -> None:
        if ids:
            with _failures(self, f"removing {what}"):
                self.api.get_resource(menu).remove(id=",".join(ids))
            self.hint = _INCOMPLETE

    def add(self, menu: str, fields: Mapping[str, str], what: str) -> str:
        with _failures(self, f"adding {what}"):
            response = self.api.get_resource(menu).call("add", dict(fields))
        self.hint = _INCOMPLETE
        return str(response.done_message.get("ret", "?"))


@contextmanager
def _session(
    address: str,
    port: int | None,
    username: str,
    password: str,
    use_ssl: bool,
    ca_file: str | None,
    timeout: float,
) -> Iterator[_Device]:
    use_ssl = use_ssl or ca_file is not None
    port = port or (API_SSL_PORT if use_ssl else API_PORT)
    where = f"{address}:{port}"
    context = _tls_context(ca_file, where) if use_ssl else None
    # The plain login is what RouterOS 6.43 and later expect; an older device
    # answers it with a challenge, which the library then answers in turn.
    pool = routeros_api.RouterOsApiPool(
        address,
        username=username,
        password=password,
        port=port,
        plaintext_login=True,
        ssl_context=context,
    )
    pool.socket_timeout = timeout
    device = _Device(None, where, port, timeout)
    try:
        with _failures(device, "logging in", login=True):
            device.api = pool.get_api()
        yield device
    finally:
        pool.disconnect()


def _tls_context(ca_file: str | None, where: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as error:
        raise DeviceUnreachable(
            f"cannot use {ca_file} to check the certificate of {where}: "
            f"{getattr(error, 'strerror', None) or error}"
        ) from None


@contextmanager
def _failures(device: _Device, doing: str, *, login: bool = False) -> Iterator[None]:
    """Turn whatever the library or the socket raises into an AgentPushError.

    Each is raised ``from None``: the library's exception text holds the
    command that failed, password or token included.
    """
    try:
        yield
    except exceptions.RouterOsApiCommunicationError as error:
        answer = _device_text(error.original_message)
        if login:
            kind: type[AgentPushError] = DeviceLoginFailed
            message = f"{device.where} refused the login: {answer}"
        else:
            kind, message = DeviceRefused, f"{device.where} refused {doing}: {answer}"
    except (exceptions.RouterOsApiError, OSError) as error:
        kind, message = _connection_failure(device, doing, error)
    else:
        return
    log.warning("agent push stopped: %s", message)
    raise kind(message + device.hint) from None


def _connection_failure(
    device: _Device, doing: str, error: BaseException
) -> tuple[type[AgentPushError], str]:
    cause = _os_error(error)
    where = device.where
    if isinstance(cause, TimeoutError):
        return DeviceTimedOut, (
            f"{where} did not answer within {device.timeout:g} s while {doing}"
        )
    if isinstance(cause, ssl.SSLCertVerificationError):
        return DeviceUnreachable, (
            f"the TLS certificate of {where} is not trusted ({cause.verify_message});"
            " give the device's certificate as the CA file"
        )
    if isinstance(cause, ssl.SSLError):
        return DeviceUnreachable, f"no TLS session with {where}: {cause.reason}"
    if isinstance(cause, ConnectionRefusedError):
        return DeviceUnreachable, (
            f"{where} refused the connection: is the API service enabled on that "
            "port (/ip service), and allowed from this host?"
        )
    if isinstance(cause, OSError) and not isinstance(cause, ConnectionError):
        reason = cause.strerror or type(cause).__name__
        return DeviceUnreachable, f"cannot reach {where}: {reason}"
    return DeviceDisconnected, f"{where} ended the session while {doing}"


def _os_error(error: BaseException) -> BaseException | None:
    """The socket error behind a library error, wherever the library put it."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        nested = [arg for arg in seen.args if isinstance(arg, OSError)]
        if nested:
            return nested[0]
        seen = seen.__cause__ or seen.__context__
    return None


def _device_text(message: object) -> str:
    if isinstance(message, bytes):
        return message.decode("utf-8", errors="replace")
    return str(message)


# -- verification --------------------------------------------------------------


def _verify(device: _Device, agent: AgentEntries) -> None:
    scripts = device.print(SCRIPT_MENU, agent.name)
    schedulers = device.print(SCHEDULER_MENU, agent.name)
    problems = [
        *_differences("script", scripts, agent.script_fields),
        *_differences("scheduler entry", schedulers, agent.scheduler_fields),
    ]
    if problems:
        raise AgentNotVerified(
            f"{device.where} does not hold the agent that was pushed: "
            + "; ".join(problems)
        )


def _differences(
    what: str, rows: list[dict[str, str]], wanted: Mapping[str, str]
) -> list[str]:
    if len(rows) != 1:
        return [f"{len(rows)} agent {what}s instead of one"]
    row = rows[0]
    problems = [
        f"the {what}'s {key} differs"
        for key, value in wanted.items()
        if not _same(key, row.get(key), value)
    ]
    if row.get("disabled") in ("true", "yes"):
        problems.append(f"the {what} is disabled")
    return problems


def _same(key: str, shown: str | None, wanted: str) -> bool:
    """Compare as RouterOS means it: it reorders policies and rewrites times."""
    if shown is None:
        return False
    if key == "policy":
        return set(shown.split(",")) == set(wanted.split(","))
    if key == "interval":
        return _seconds(shown) == _seconds(wanted)
    if key == "dont-require-permissions":
        return _boolean(shown) == _boolean(wanted)
    if key == "source":
        return _lines(shown) == _lines(wanted)
    if key == "start-time":
        return shown.lower() == wanted.lower()
    return shown == wanted


def _seconds(duration: str) -> float | None:
    """Seconds in a RouterOS time such as ``30s``, ``1h5m`` or ``1d 00:05:00``."""
    text = duration.strip()
    if text.isdigit():
        return int(text)
    clock = _CLOCK.fullmatch(text)
    if clock:
        days, hours, minutes, seconds = (int(part or 0) for part in clock.groups())
        return ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        return None
    weeks, days, hours, minutes, seconds, millis = (
        int(part or 0) for part in match.groups()
    )
    return (
        (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60
        + seconds
        + (millis / 1000)
    )


def _boolean(value: str) -> bool | None:
    return {"yes": True, "true": True, "no": False, "false": False}.get(value)


def _lines(source: str) -> list[str]:
    # Devices may store CRLF line ends or drop trailing blanks.
    return [line.rstrip() for line in source.replace("\r\n", "\n").strip().split("\n")]
