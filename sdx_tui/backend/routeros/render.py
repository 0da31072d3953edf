"""The RouterOS scripts the desk writes: agent installer, job wrapper, backup.

Every value that comes from a person or the database is written through
:func:`~sdx_tui.backend.routeros.quoting.quote` or checked against a strict
pattern first, so it cannot change the meaning of the script around it. Every
script rendered here passes :func:`~sdx_tui.backend.routeros.lint.lint` without
an error.

The agent (``render_agent_installer``)
    Adds a ``/system script`` and a ``/system scheduler`` entry, both named
    ``sdx-agent`` (old ones are removed first, so the installer can be run
    again). Every ``interval_seconds`` the agent sends ``GET
    {base_url}/agent/v1/poll`` with ``Authorization: Bearer <token>`` and
    ``output=user as-value``: an empty answer (HTTP 204) means nothing to do;
    a body (HTTP 200) is parsed and run. A poll that is still running when the
    next one is due is left alone. Answers must fit ``output=user``: about 63 KB.

The wrapper (``render_job_wrapper``)
    What a poll returns for one delivery. It keeps the delivery ids it has
    seen in the global array ``sdxDeliveries`` (``"d<id>"`` -> ``running``,
    ``completed`` or ``failed``; cleared when it reaches 200 entries, and on
    reboot) and never runs an id twice. A repeated id still ``running`` is
    ignored; a finished one gets its status posted again, with the output
    ``sdx: repeated delivery ...`` (the first output is not kept).

    On RouterOS 7 (``routeros_major=7``, meaning 7.13 or later) the job (the
    backup prelude, then the body) runs through ``:execute ... as-string`` so
    its output is captured, inside ``:onerror`` so the error message is too.
    On RouterOS 6 it runs inline in ``:do { } on-error={ }``: the status is
    right, but there is no output or error message.

The result POST (what the endpoint parses; see :func:`parse_result_body`)
    ``POST {base_url}/agent/v1/result/{delivery_id}`` with the headers
    ``Authorization: Bearer <token>`` and ``Content-Type: application/json``
    and the body, one JSON object::

        {"status":"completed","output":"..."}

    - ``status`` is ``completed`` or ``failed``, nothing else.
    - ``output`` is the job's console output (``:put`` and printed tables).
      On failure it ends with ``error: <RouterOS message>`` (or a note that the
      job did not finish). Output over 60,000 characters is cut, and a last
      line ``[sdx: output truncated: <N> bytes, first <K> kept]`` says so. On
      RouterOS 6 it is a fixed note, as RouterOS 6 cannot capture output.
    - RouterOS strings are bytes: the body is JSON whose string content may
      hold bytes that are not valid UTF-8. Decode it as UTF-8 with
      ``errors="replace"`` before parsing; :func:`parse_result_body` does.
    - The backup prelude prints ``sdx-backup: uploaded ...`` when the backup
      reached the SFTP server; when it did not, the job fails with an error
      starting ``sdx-backup: failed:`` and the body never runs.

    The POST is sent once; if it fails, the device logs it and the desk learns
    the outcome from a repeated delivery or the deadline.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from sdx_tui.backend.errors import InvalidInput
from sdx_tui.backend.routeros.quoting import escape, quote
from sdx_tui.config import BackupSettings

__all__ = [
    "AGENT_NAME",
    "MAX_WRAPPER_BYTES",
    "OUTPUT_LIMIT",
    "AgentEntries",
    "BackupTarget",
    "JobResult",
    "agent_entries",
    "parse_result_body",
    "render_agent_installer",
    "render_backup_prelude",
    "render_job_wrapper",
]

AGENT_NAME = "sdx-agent"
"""Name of the agent's ``/system script`` and ``/system scheduler`` entries."""

OUTPUT_LIMIT = 60_000
"""Characters of job output posted back; the rest is cut with a marker."""

MAX_WRAPPER_BYTES = 63 * 1024
"""Largest wrapper a device can receive through ``/tool fetch output=user``."""

TRUNCATION_MARKER = "[sdx: output truncated:"
BACKUP_OK_MARKER = "sdx-backup: uploaded"
BACKUP_FAILED_MARKER = "sdx-backup: failed:"

_DELIVERY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{8,512}")
_BASE_URL = re.compile(r"https?://[^\s\"'$?#,\\]+")
_JOB_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_POLICY = "read,write,policy,test,password,sniff,sensitive,romon,ftp,reboot"


@dataclass(frozen=True, slots=True)
class BackupTarget:
    """The SFTP server that receives configuration backups."""

    host: str
    user: str
    password: str
    path: str = "backups"
    """Directory on the server; empty for the login directory."""
    port: int = 22

    @classmethod
    def from_settings(cls, settings: BackupSettings) -> BackupTarget:
        """The target configured in the ``[backup]`` settings."""
        return cls(
            host=settings.sftp_host,
            user=settings.sftp_user,
            password=settings.sftp_password,
            path=settings.sftp_path,
            port=settings.sftp_port,
        )

    def __repr__(self) -> str:
        # Keeps the password out of logs and tracebacks.
        return (
            f"BackupTarget(host={self.host!r}, user={self.user!r}, "
            f"path={self.path!r}, port={self.port})"
        )


@dataclass(frozen=True, slots=True)
class JobResult:
    """A result a device posted, as :func:`parse_result_body` reads it."""

    status: Literal["completed", "failed"]
    output: str

    @property
    def truncated(self) -> bool:
        """The device cut the output."""
        return TRUNCATION_MARKER in self.output

    @property
    def backup(self) -> Literal["uploaded", "failed"] | None:
        """What the backup prelude reported; None when there was no backup."""
        if BACKUP_FAILED_MARKER in self.output:
            return "failed"
        if BACKUP_OK_MARKER in self.output:
            return "uploaded"
        return None


def parse_result_body(body: bytes) -> JobResult:
    """Read the body of a result POST; ValueError when it is malformed."""
    try:
        data = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError as error:
        raise ValueError(f"the result is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise ValueError("the result is not a JSON object")
    status = data.get("status")
    output = data.get("output")
    if status not in ("completed", "failed"):
        raise ValueError(f"the result status must be completed or failed: {status!r}")
    if not isinstance(output, str):
        raise ValueError("the result output must be a string")
    return JobResult(status, output)


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise InvalidInput(
            f"{what} cannot be written into a RouterOS script: {value!r}"
        )
    return value


def _base_url(base_url: str) -> str:
    return _check(_BASE_URL, base_url.rstrip("/"), "the endpoint URL")


def render_backup_prelude(*, job_name: str, sftp: BackupTarget) -> str:
    """Commands that back up the device by SFTP before a job, or stop it.

    A binary backup and an export are saved as ``sdx-<job_name>.backup`` and
    ``.rsc``, waited for (up to 30 s), uploaded to ``sftp``, then deleted from
    the device. If the files do not appear or the upload fails, the prelude
    raises ``sdx-backup: failed: ...``, which stops the job.
    """
    if not sftp.host:
        raise InvalidInput("no SFTP server is configured for backups")
    name = "sdx-" + (_JOB_NAME_UNSAFE.sub("-", job_name).strip("-")[:48] or "job")
    directory = sftp.path.strip("/")
    prefix = f"{directory}/" if directory else ""
    files = (f"{name}.backup", f"{name}.rsc")
    uploads = "\n".join(
        f"  /tool fetch upload=yes mode=sftp address={quote(sftp.host)} "
        f"port={int(sftp.port)} user={quote(sftp.user)} "
        f"password={quote(sftp.password)} src-path={quote(file)} "
        f"dst-path={quote(prefix + file)}"
        for file in files
    )
    missing = (
        f'([:len [/file find name="{files[0]}"]] = 0) or '
        f'([:len [/file find name="{files[1]}"]] = 0)'
    )
    where = escape(f"{sftp.host}:{prefix or './'}")
    return f"""\
# SDX desk: back up the configuration before the job
/system backup save name="{name}" dont-encrypt=yes
/export file="{name}"
:local sdxWait 0
:while (({missing}) and ($sdxWait < 30)) do={{
  :delay 1s
  :set sdxWait ($sdxWait + 1)
}}
:if ({missing}) do={{
  :error "{BACKUP_FAILED_MARKER} the backup files did not appear within 30 s"
}}
:local sdxUploaded true
:do {{
{uploads}
}} on-error={{
  :set sdxUploaded false
}}
/file remove [find name="{files[0]}"]
/file remove [find name="{files[1]}"]
:if (!$sdxUploaded) do={{
  :error "{BACKUP_FAILED_MARKER} the SFTP upload to {escape(sftp.host)} did not succeed"
}}
:put "{BACKUP_OK_MARKER} {files[0]} and {files[1]} to {where}"
"""


@dataclass(frozen=True, slots=True)
class AgentEntries:
    """The agent's ``/system script`` and ``/system scheduler`` entries.

    :func:`render_agent_installer` writes them as console commands; a client of
    the RouterOS API adds the same fields (:attr:`script_fields`,
    :attr:`scheduler_fields`) directly.
    """

    name: str
    policy: str
    comment: str
    source: str
    """The agent script's source, as a device stores it."""
    interval_seconds: int
    on_event: str
    dont_require_permissions: str = "no"
    start_time: str = "startup"

    @property
    def script_fields(self) -> dict[str, str]:
        """The ``/system script add`` arguments, by RouterOS property name."""
        return {
            "name": self.name,
            "policy": self.policy,
            "dont-require-permissions": self.dont_require_permissions,
            "comment": self.comment,
            "source": self.source,
        }

    @property
    def scheduler_fields(self) -> dict[str, str]:
        """The ``/system scheduler add`` arguments, by RouterOS property name."""
        return {
            "name": self.name,
            "interval": f"{self.interval_seconds}s",
            "start-time": self.start_time,
            "policy": self.policy,
            "comment": self.comment,
            "on-event": self.on_event,
        }

    def __repr__(self) -> str:
        # The source holds the site's token; keep it out of logs and tracebacks.
        return (
            f"AgentEntries(name={self.name!r}, comment={self.comment!r}, "
            f"interval_seconds={self.interval_seconds})"
        )


def agent_entries(
    *, site_name: str, base_url: str, token: str, interval_seconds: int
) -> AgentEntries:
    """The agent's entries for one site; :class:`InvalidInput` for unsafe values."""
    url = _base_url(base_url) + "/agent/v1/poll"
    _check(_TOKEN, token, "the site token")
    if not 5 <= interval_seconds <= 86_400:
        raise InvalidInput("the poll interval must be between 5 s and 1 day")
    return AgentEntries(
        name=AGENT_NAME,
        policy=_POLICY,
        comment=f"SDX desk agent for {site_name}",
        source=_agent_source(url, token),
        interval_seconds=interval_seconds,
        on_event=f"/system script run {AGENT_NAME}",
    )


def _agent_source(url: str, token: str) -> str:
    return f"""\
  :local sdxUrl {quote(url)}
  :local sdxAuth {quote("Authorization: Bearer " + token)}
  :local sdxJob ""
  :if ([:len [/system script job find where script="{AGENT_NAME}"]] > 1) do={{
    :log debug "{AGENT_NAME}: the previous poll is still running"
  }} else={{
    :do {{
      :local sdxReply [/tool fetch url=$sdxUrl http-header-field=$sdxAuth \\
        output=user as-value]
      :if (($sdxReply->"status") = "finished") do={{
        :set sdxJob ($sdxReply->"data")
      }}
    }} on-error={{
      :log warning "{AGENT_NAME}: the poll failed"
    }}
    :if ([:len $sdxJob] > 0) do={{
      :local sdxRun [:parse $sdxJob]
      $sdxRun
    }}
  }}
"""


def render_agent_installer(
    *, site_name: str, base_url: str, token: str, interval_seconds: int
) -> str:
    """The script an admin runs once on a device to install the polling agent."""
    agent = agent_entries(
        site_name=site_name,
        base_url=base_url,
        token=token,
        interval_seconds=interval_seconds,
    )
    label = quote(agent.comment)
    return f"""\
# SDX desk agent for {_CONTROL.sub(" ", site_name)}
# Run it once on the device; running it again replaces the agent.
/system scheduler remove [find name="{agent.name}"]
/system script remove [find name="{agent.name}"]
/system script add name="{agent.name}" policy={agent.policy} \\
    dont-require-permissions={agent.dont_require_permissions} comment={label} source={{
{agent.source}}}
/system scheduler add name="{agent.name}" interval={agent.interval_seconds}s \\
    start-time={agent.start_time} policy={agent.policy} comment={label} \\
    on-event={quote(agent.on_event)}
:log info "{agent.name} installed"
"""


# The JSON string escaper, run on the device. Control characters other than
# tab, newline and carriage return become \u00XX.
_JSON_ESCAPER = r""":local sdxJson do={
  :local text [:tostr $1]
  :local result ""
  :local hex "0123456789ABCDEF"
  :local control ("\01\02\03\04\05\06\07\08\09\0A\0B\0C\0D\0E\0F" . \
    "\10\11\12\13\14\15\16\17\18\19\1A\1B\1C\1D\1E\1F")
  :local length [:len $text]
  :if ($length > 0) do={
    :for i from=0 to=($length - 1) do={
      :local char [:pick $text $i]
      :local out $char
      :if ($char = "\"") do={ :set out "\\\"" }
      :if ($char = "\\") do={ :set out "\\\\" }
      :if ($char = "\n") do={ :set out "\\n" }
      :if ($char = "\r") do={ :set out "\\r" }
      :if ($char = "\t") do={ :set out "\\t" }
      :if ($out = $char) do={
        :local code [:find $control $char]
        :if ([:typeof $code] = "num") do={
          :set code ($code + 1)
          :set out ("\\u00" . [:pick $hex ($code / 16)] . [:pick $hex ($code % 16)])
        }
      }
      :set result ($result . $out)
    }
  }
  :return $result
}"""


def render_job_wrapper(
    *,
    delivery_id: str,
    body: str,
    base_url: str,
    token: str,
    routeros_major: int = 7,
    backup_prelude: str | None = None,
) -> str:
    """The runnable script a poll returns for one delivery; see the module doc."""
    _check(_DELIVERY_ID, delivery_id, "the delivery id")
    _check(_TOKEN, token, "the site token")
    if routeros_major not in (6, 7):
        raise InvalidInput(f"RouterOS {routeros_major} is not supported")
    url = f"{_base_url(base_url)}/agent/v1/result/{delivery_id}"
    headers = f"Authorization: Bearer {token},Content-Type: application/json"
    job = body if backup_prelude is None else f"{backup_prelude.rstrip()}\n{body}"
    run = _run_v7(job, delivery_id) if routeros_major == 7 else _run_v6(job)
    post = _post_v7() if routeros_major == 7 else _post_v6()

    script = f"""\
# SDX desk delivery {delivery_id}
:global sdxDeliveries
:if ([:typeof $sdxDeliveries] != "array") do={{
  :set sdxDeliveries [:toarray ""]
}}
:local sdxKey "d{delivery_id}"
:local sdxUrl {quote(url)}
:local sdxHeaders {quote(headers)}
:local sdxStatus "completed"
:local sdxOutput ""
:local sdxPost false
:local sdxSeen ($sdxDeliveries->$sdxKey)
:if ([:typeof $sdxSeen] = "str") do={{
  :log warning "sdx: delivery {delivery_id} already ran here; not running it again"
  :if ($sdxSeen != "running") do={{
    :set sdxStatus $sdxSeen
    :set sdxOutput ("sdx: repeated delivery: this device already ran it; " . \\
      "the first output is not kept")
    :set sdxPost true
  }}
}} else={{
  :if ([:len $sdxDeliveries] >= 200) do={{
    :set sdxDeliveries [:toarray ""]
  }}
  :set ($sdxDeliveries->$sdxKey) "running"
{run}
  :set ($sdxDeliveries->$sdxKey) $sdxStatus
  :set sdxPost true
}}
:if ($sdxPost) do={{
  :local sdxLength [:len $sdxOutput]
  :if ($sdxLength > {OUTPUT_LIMIT}) do={{
    :set sdxOutput ([:pick $sdxOutput 0 {OUTPUT_LIMIT}] . \\
      "\\n{TRUNCATION_MARKER} " . $sdxLength . " bytes, first {OUTPUT_LIMIT} kept]")
  }}
{_indent(_JSON_ESCAPER, 2)}
  :local sdxBody ("{{\\"status\\":\\"" . $sdxStatus . "\\",\\"output\\":\\"" . \\
    [$sdxJson $sdxOutput] . "\\"}}")
{post}
}}
"""
    size = len(script.encode("utf-8"))
    if size > MAX_WRAPPER_BYTES:
        raise InvalidInput(
            f"the job is too large to deliver: {size} bytes with its wrapper, "
            f"and a device accepts at most {MAX_WRAPPER_BYTES}"
        )
    return script


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line else line for line in text.splitlines())


def _run_v7(job: str, delivery_id: str) -> str:
    done = f"SDX-DONE-{delivery_id}"
    failed = f"SDX-FAILED-{delivery_id}: "
    executed = (
        f":onerror sdxJobError in={{\n{job.rstrip()}\n:put {quote(done)}\n}} "
        f"do={{\n:put ({quote(failed)} . $sdxJobError)\n}}\n"
    )
    return f"""\
  :local sdxJob {quote(executed)}
  :onerror sdxError in={{
    :set sdxOutput [:execute script=$sdxJob as-string]
  }} do={{
    :set sdxOutput ($sdxOutput . "\\n" . {quote(failed)} . $sdxError)
  }}
  :local sdxFailedAt [:find $sdxOutput {quote(failed)}]
  :local sdxDoneAt [:find $sdxOutput {quote(done)}]
  :if ([:typeof $sdxFailedAt] = "num") do={{
    :set sdxStatus "failed"
    :local sdxMessageAt ($sdxFailedAt + {len(failed)})
    :set sdxOutput ([:pick $sdxOutput 0 $sdxFailedAt] . "error: " . \\
      [:pick $sdxOutput $sdxMessageAt [:len $sdxOutput]])
  }} else={{
    :if ([:typeof $sdxDoneAt] = "num") do={{
      :set sdxOutput [:pick $sdxOutput 0 $sdxDoneAt]
    }} else={{
      :set sdxStatus "failed"
      :set sdxOutput ($sdxOutput . \\
        "\\nerror: the job did not finish (a syntax error, or it was stopped)")
    }}
  }}"""


def _run_v6(job: str) -> str:
    return f"""\
  :do {{
{job.rstrip()}
  }} on-error={{
    :set sdxStatus "failed"
  }}
  :set sdxOutput "sdx: RouterOS 6 cannot capture the output of a job"
  :if ($sdxStatus = "failed") do={{
    :set sdxOutput ($sdxOutput . \\
      "\\nerror: the job stopped with an error (RouterOS 6 gives no message)")
  }}"""


def _post_v7() -> str:
    return """\
  :onerror sdxPostError in={
    /tool fetch url=$sdxUrl http-method=post http-header-field=$sdxHeaders \\
      http-data=$sdxBody output=none
  } do={
    :log error ("sdx: the result could not be posted: " . $sdxPostError)
  }"""


def _post_v6() -> str:
    return """\
  :do {
    /tool fetch url=$sdxUrl http-method=post http-header-field=$sdxHeaders \\
      http-data=$sdxBody keep-result=no
  } on-error={
    :log error "sdx: the result could not be posted"
  }"""
