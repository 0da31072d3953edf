"""The data model, as SQLAlchemy 2 typed declarative classes.

Every timestamp is stored time-zone aware in UTC; each script and site carries
the IANA zone its times are shown in.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back aware, in UTC, on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """The declarative base of every table."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UtcDateTime()}


class Role(enum.StrEnum):
    """What a person may do."""

    OPERATOR = "operator"
    APPROVER = "approver"
    ADMIN = "admin"


class ScriptStatus(enum.StrEnum):
    """States of a scheduled script (DESIGN.md section 3)."""

    UNAUTHORIZED = "unauthorized"
    SCHEDULED = "scheduled"
    LAUNCHED = "launched"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OutcomeStatus(enum.StrEnum):
    """States of one site's part of a run."""

    PENDING = "pending"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


class RunKind(enum.StrEnum):
    """Why a run exists."""

    LAUNCH = "launch"
    TEST = "test"
    RETRY = "retry"


class RunStatus(enum.StrEnum):
    """A run rolls up from its outcomes."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    MISSED = "missed"


class ApprovalStatus(enum.StrEnum):
    """States of an approval request."""

    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    VOIDED = "voided"
    EXPIRED = "expired"


class OutboxStatus(enum.StrEnum):
    """States of a notification in the outbox."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"
    """Not sent because its approval link was voided or decided first."""


def _enum(kind: type[enum.StrEnum]) -> Enum:
    return Enum(
        kind,
        native_enum=False,
        length=16,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class Organisation(Base):
    """An organisation; an MSP is the parent of its customers."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(default=_now)

    parent: Mapped[Organisation | None] = relationship(remote_side=[id])


class Workspace(Base):
    """A group of sites and scripts inside an organisation."""

    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=_now)

    organisation: Mapped[Organisation] = relationship()


class User(Base):
    """A person, identified by the OS user name they run `sdx` as."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    os_user: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    roles: Mapped[str] = mapped_column(String(100), default="operator")
    email: Mapped[str] = mapped_column(String(320), default="")
    whatsapp: Mapped[str] = mapped_column(String(32), default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)

    organisation: Mapped[Organisation] = relationship()

    @property
    def role_set(self) -> frozenset[Role]:
        """The roles as a set."""
        return frozenset(Role(part) for part in self.roles.split(",") if part)


class Site(Base):
    """A RouterOS device that polls the endpoint for work."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    name: Mapped[str] = mapped_column(String(200))
    routeros_version: Mapped[str] = mapped_column(String(32), default="7.16")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    address: Mapped[str] = mapped_column(String(255), default="")
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=_now)

    workspace: Mapped[Workspace] = relationship()


class Template(Base):
    """A reusable script with typed variables."""

    __tablename__ = "templates"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text)
    variables: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    is_global: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class Script(Base):
    """A scheduled script: what runs, where, and when."""

    __tablename__ = "scripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    description: Mapped[str] = mapped_column(String(500))
    content: Mapped[str] = mapped_column(Text, default="")
    template_id: Mapped[int | None] = mapped_column(ForeignKey("templates.id"))
    template_values: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[ScriptStatus] = mapped_column(
        _enum(ScriptStatus), default=ScriptStatus.UNAUTHORIZED, index=True
    )
    launch_at: Mapped[datetime | None] = mapped_column(index=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    recurrence: Mapped[str] = mapped_column(String(200), default="")
    make_backup: Mapped[bool] = mapped_column(Boolean, default=False)
    test_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    approved_hash: Mapped[str] = mapped_column(String(64), default="")
    approved_revision: Mapped[int | None]
    next_launch_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now)

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    workspace: Mapped[Workspace] = relationship()
    test_site: Mapped[Site | None] = relationship(foreign_keys=[test_site_id])
    targets: Mapped[list[Site]] = relationship(
        secondary="script_targets", order_by="Site.name"
    )


class ScriptTarget(Base):
    """A site a script runs on."""

    __tablename__ = "script_targets"

    script_id: Mapped[int] = mapped_column(
        ForeignKey("scripts.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)


class ScriptVersion(Base):
    """The content of a script at one revision, kept for diffs and history."""

    __tablename__ = "script_versions"
    __table_args__ = (UniqueConstraint("script_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    script_id: Mapped[int] = mapped_column(ForeignKey("scripts.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class Run(Base):
    """One dispatch of a script: a launch, a test or a retry."""

    __tablename__ = "runs"
    __table_args__ = (
        # One launch per script and occurrence, whatever number of backends race.
        UniqueConstraint("script_id", "kind", "occurrence_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    script_id: Mapped[int] = mapped_column(ForeignKey("scripts.id"), index=True)
    kind: Mapped[RunKind] = mapped_column(_enum(RunKind))
    status: Mapped[RunStatus] = mapped_column(
        _enum(RunStatus), default=RunStatus.RUNNING, index=True
    )
    occurrence_at: Mapped[datetime]
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    retry_of_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=_now)
    finished_at: Mapped[datetime | None]

    script: Mapped[Script] = relationship()


class Outcome(Base):
    """One site's part of a run."""

    __tablename__ = "outcomes"
    __table_args__ = (
        UniqueConstraint("run_id", "site_id"),
        Index("ix_outcomes_site_open", "site_id", "status"),
        # The endpoint reads "which sites have open work" every second; this keeps
        # that a range scan over open outcomes rather than over all history.
        Index("ix_outcomes_status_site", "status", "site_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    status: Mapped[OutcomeStatus] = mapped_column(
        _enum(OutcomeStatus), default=OutcomeStatus.PENDING
    )
    delivery_id: Mapped[str] = mapped_column(String(32), unique=True)
    deadline: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    output: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    backup_ok: Mapped[bool | None]
    updated_at: Mapped[datetime] = mapped_column(default=_now)

    run: Mapped[Run] = relationship()
    site: Mapped[Site] = relationship()


class LogEntry(Base):
    """One step of the orchestration of a site (created, polled, delivered, ...)."""

    __tablename__ = "log_entries"
    __table_args__ = (Index("ix_log_entries_site_at", "site_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    outcome_id: Mapped[int | None] = mapped_column(
        ForeignKey("outcomes.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=_now)
    event: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


class ApprovalRequest(Base):
    """A request that a second person approve exactly what will run."""

    __tablename__ = "approval_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    script_id: Mapped[int] = mapped_column(ForeignKey("scripts.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    status: Mapped[ApprovalStatus] = mapped_column(
        _enum(ApprovalStatus), default=ApprovalStatus.OPEN, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=_now)
    expires_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")

    script: Mapped[Script] = relationship()


class ApprovalToken(Base):
    """One approver's single-use link for one request; only its hash is kept."""

    __tablename__ = "approval_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("approval_requests.id", ondelete="CASCADE"), index=True
    )
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    csrf_nonce: Mapped[str] = mapped_column(String(64), default="")


class OutboxMessage(Base):
    """A notification waiting to be sent, or sent, or given up on."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str] = mapped_column(Text, default="")
    approval_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("approval_tokens.id", ondelete="SET NULL")
    )
    status: Mapped[OutboxStatus] = mapped_column(
        _enum(OutboxStatus), default=OutboxStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=_now)
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=_now)
    sent_at: Mapped[datetime | None]


class AuditEvent(Base):
    """An act of a person: who, what, on what, when, and from where."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=_now, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    origin: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32), default="")
    subject_id: Mapped[int | None]
    detail: Mapped[str] = mapped_column(Text, default="")
