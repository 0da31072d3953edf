"""Typed settings, read from a TOML file and the environment.

The file lives in the platformdirs config directory unless ``SDX_CONFIG`` names
another; data (the SQLite database, caches) lives under ``SDX_DATA_DIR`` or the
platformdirs data directory. Secrets are only ever kept in this file, which is
written with 0600 permissions.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

import platformdirs

APP_NAME = "sdx-desk"

_Section = TypeVar("_Section")


class SettingsError(ValueError):
    """The settings file or the environment holds a value we cannot use."""


@dataclass(frozen=True)
class EndpointSettings:
    """Where the HTTP endpoint that devices poll listens, and how it is reached."""

    host: str = "127.0.0.1"
    """Address to bind."""
    port: int = 8470
    """TCP port to bind."""
    public_url: str = ""
    """Base URL devices and approvers use; empty means http://host:port."""
    tls_cert: str = ""
    """PEM certificate for HTTPS; empty serves plain HTTP."""
    tls_key: str = ""
    """PEM private key matching ``tls_cert``."""
    embedded: bool = True
    """Serve the endpoint inside the TUI process."""
    poll_interval: int = 30
    """Seconds between device polls, written into the agent script."""
    delivery_deadline_minutes: int = 60
    """How long an outcome may wait for its device before it times out."""
    max_body_bytes: int = 262_144
    """Largest request body the endpoint accepts."""
    rate_per_minute: int = 120
    """Requests one token may make per minute before it gets 429."""

    def base_url(self) -> str:
        """The public base URL, without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{self.host}:{self.port}"


@dataclass(frozen=True)
class SchedulerSettings:
    """How launches are timed."""

    grace_seconds: int = 900
    """A launch missed by less than this still happens when the backend is back."""
    sync_seconds: float = 2.0
    """How often the scheduler re-reads the database for changes by other desks."""


@dataclass(frozen=True)
class ApprovalSettings:
    """Approval links."""

    link_ttl_hours: float = 24.0
    """How long an approval link stays valid."""


@dataclass(frozen=True)
class SmtpSettings:
    """Outgoing e-mail."""

    host: str = ""
    """SMTP server; empty disables e-mail."""
    port: int = 587
    """SMTP port."""
    security: str = "starttls"
    """One of ``starttls``, ``tls`` or ``none``."""
    username: str = ""
    """Login name; empty sends without logging in."""
    password: str = ""
    """Login password (secret)."""
    sender: str = "sdx-desk@localhost"
    """The From address."""
    timeout: float = 10.0
    """Seconds before a connection attempt is abandoned."""


@dataclass(frozen=True)
class WhatsAppSettings:
    """The WhatsApp Business Cloud API."""

    base_url: str = "https://graph.facebook.com/v21.0"
    """API base URL."""
    phone_number_id: str = ""
    """Sender phone-number id; empty disables WhatsApp."""
    access_token: str = ""
    """Bearer token (secret)."""
    timeout: float = 10.0
    """Seconds before a request is abandoned."""


@dataclass(frozen=True)
class BackupSettings:
    """Where configuration backups are uploaded by SFTP."""

    sftp_host: str = ""
    """SFTP server that receives backups."""
    sftp_port: int = 22
    """SFTP port."""
    sftp_user: str = ""
    """SFTP login."""
    sftp_password: str = ""
    """SFTP password (secret)."""
    sftp_path: str = "backups"
    """Directory on the server."""


@dataclass(frozen=True)
class AiSettings:
    """Script generation through Ollama."""

    ollama_url: str = "http://127.0.0.1:11434"
    """Ollama server."""
    model: str = "llama3.1"
    """Model name."""


@dataclass(frozen=True)
class Settings:
    """Everything the desk reads at start."""

    data_dir: Path
    """Where the SQLite database and caches live."""
    config_path: Path
    """The settings file this was read from (it may not exist yet)."""
    database_url: str = ""
    """SQLAlchemy URL; empty means SQLite under ``data_dir``."""
    time_zone: str = "UTC"
    """The desk's default time zone for new scripts and sites."""
    link_key: str = ""
    """Secret used to sign approval links (secret)."""
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    approvals: ApprovalSettings = field(default_factory=ApprovalSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    whatsapp: WhatsAppSettings = field(default_factory=WhatsAppSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    ai: AiSettings = field(default_factory=AiSettings)

    @property
    def effective_database_url(self) -> str:
        """The database URL to connect to."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'sdx.db'}"

    @property
    def schema_cache_dir(self) -> Path:
        """Where RouterOS command trees are cached."""
        return self.data_dir / "schema"

    def with_section(self, name: str, **changes: Any) -> Settings:
        """A copy with some fields of one section replaced."""
        section = getattr(self, name)
        return dataclasses.replace(
            self, **{name: dataclasses.replace(section, **changes)}
        )


_SECTIONS = {
    "endpoint": EndpointSettings,
    "scheduler": SchedulerSettings,
    "approvals": ApprovalSettings,
    "smtp": SmtpSettings,
    "whatsapp": WhatsAppSettings,
    "backup": BackupSettings,
    "ai": AiSettings,
}
_TOP_LEVEL = ("database_url", "time_zone", "link_key")


def default_config_path() -> Path:
    """The settings file, honouring ``SDX_CONFIG``."""
    explicit = os.environ.get("SDX_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "settings.toml"


def default_data_dir() -> Path:
    """The data directory, honouring ``SDX_DATA_DIR``."""
    explicit = os.environ.get("SDX_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME))


def _accepts(kind: Any, value: Any) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def _coerce(section: str, name: str, kind: Any, value: Any) -> Any:
    if not _accepts(kind, value):
        where = f"{section}.{name}" if section else name
        raise SettingsError(f"{where} must be {kind.__name__}, not {value!r}")
    return float(value) if kind is float else value


def _build_section(name: str, cls: type[_Section], raw: Any) -> _Section:
    if not isinstance(raw, dict):
        raise SettingsError(f"[{name}] must be a table")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SettingsError(f"unknown setting {name}.{unknown[0]}")
    values = {key: _coerce(name, key, hints[key], value) for key, value in raw.items()}
    return cls(**values)


def load_settings(
    config_path: Path | None = None, data_dir: Path | None = None
) -> Settings:
    """Read the settings file (if any) and apply environment overrides."""
    path = config_path or default_config_path()
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise SettingsError(f"cannot read {path}: {error}") from error

    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _SECTIONS:
            values[key] = _build_section(key, _SECTIONS[key], value)
        elif key in _TOP_LEVEL:
            values[key] = _coerce("", key, str, value)
        else:
            raise SettingsError(f"unknown setting {key}")

    env_url = os.environ.get("SDX_DATABASE_URL")
    if env_url:
        values["database_url"] = env_url
    return Settings(data_dir=data_dir or default_data_dir(), config_path=path, **values)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def render_settings(settings: Settings) -> str:
    """The TOML text of every setting that differs from its default."""
    lines: list[str] = []
    defaults = Settings(data_dir=settings.data_dir, config_path=settings.config_path)
    for key in _TOP_LEVEL:
        value = getattr(settings, key)
        if value != getattr(defaults, key) and not (
            key == "database_url" and os.environ.get("SDX_DATABASE_URL") == value
        ):
            lines.append(f"{key} = {_toml_value(value)}")
    for name, cls in _SECTIONS.items():
        section = getattr(settings, name)
        changed = [
            f"{f.name} = {_toml_value(getattr(section, f.name))}"
            for f in fields(cls)
            if getattr(section, f.name) != f.default
        ]
        if changed:
            lines.extend(["", f"[{name}]", *changed])
    return "\n".join(lines).strip() + "\n"


def save_settings(settings: Settings) -> None:
    """Write the settings file with 0600 permissions, atomically."""
    path = settings.config_path
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(render_settings(settings))
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
