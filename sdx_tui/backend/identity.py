"""Who is at the desk: OS users mapped to user records with roles."""

from __future__ import annotations

import getpass
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from sdx_tui.backend import audit
from sdx_tui.backend.db import Database
from sdx_tui.backend.errors import InvalidInput, NotFound, PermissionDenied
from sdx_tui.backend.models import Organisation, Role, User, Workspace

log = logging.getLogger(__name__)

_OS_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,99}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_WHATSAPP = re.compile(r"^\+?[0-9]{6,15}$")
DEFAULT_ORGANISATION = "My NOC"
DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True)
class Actor:
    """A person acting now, and from where (``tui``, ``cli`` or ``link``)."""

    user_id: int
    name: str
    origin: str
    roles: frozenset[Role] = frozenset()
    organisation_id: int = 0

    def has(self, role: Role) -> bool:
        """Whether the person holds ``role`` (admins hold every role)."""
        return role in self.roles or Role.ADMIN in self.roles


def current_os_user() -> str:
    """The name of the operating-system user running the desk."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "operator"


def parse_roles(text: str | Iterable[str]) -> frozenset[Role]:
    """Roles from ``"operator,approver"`` or a list; a clear error otherwise."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    roles: set[Role] = set()
    for part in (p.strip().lower() for p in parts):
        if not part:
            continue
        try:
            roles.add(Role(part))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise InvalidInput(f"unknown role {part!r} (known: {known})") from None
    if not roles:
        raise InvalidInput("give at least one role")
    return frozenset(roles)


def _roles_text(roles: Iterable[Role]) -> str:
    return ",".join(sorted(role.value for role in roles))


def actor_for(user: User, origin: str) -> Actor:
    """The actor of a user record."""
    return Actor(
        user_id=user.id,
        name=user.os_user,
        origin=origin,
        roles=user.role_set,
        organisation_id=user.organisation_id,
    )


def require_role(actor: Actor, role: Role) -> None:
    """Raise :class:`PermissionDenied` unless the actor holds ``role``."""
    if not actor.has(role):
        raise PermissionDenied(f"{actor.name} does not have the {role.value} role")


def organisation_name(database: Database, organisation_id: int) -> str:
    """The name of an organisation; :class:`NotFound` if there is none by that id."""
    with database.reading() as session:
        name = session.scalar(
            select(Organisation.name).where(Organisation.id == organisation_id)
        )
    if name is None:
        raise NotFound(f"organisation {organisation_id} does not exist")
    return name


def is_initialised(database: Database) -> bool:
    """Whether an organisation exists yet."""
    with database.reading() as session:
        return bool(session.scalar(select(func.count(Organisation.id))))


def initialise(
    database: Database,
    *,
    organisation: str = DEFAULT_ORGANISATION,
    admin: str | None = None,
    display_name: str = "",
    email: str = "",
) -> Actor:
    """Create the first organisation and make ``admin`` (the OS user) its admin."""
    organisation = organisation.strip()
    if not organisation:
        raise InvalidInput("the organisation needs a name")
    os_user = (admin or current_os_user()).strip()
    _check_os_user(os_user)
    with database.session() as session:
        if session.scalar(select(func.count(Organisation.id))):
            raise InvalidInput("the desk is already initialised")
        org = Organisation(name=organisation)
        session.add(org)
        session.flush()
        session.add(Workspace(organisation_id=org.id, name=DEFAULT_WORKSPACE))
        user = User(
            os_user=os_user,
            display_name=display_name.strip() or os_user,
            organisation_id=org.id,
            roles=_roles_text(Role),
            email=email.strip(),
        )
        session.add(user)
        session.flush()
        actor = actor_for(user, "cli")
        audit.record(
            session,
            actor,
            "desk.initialised",
            subject_type="organisation",
            subject_id=org.id,
            detail=organisation,
        )
    log.info("desk initialised for organisation %s", organisation)
    return actor


def ensure_initialised(database: Database) -> None:
    """Initialise with defaults when the database has no organisation yet."""
    if not is_initialised(database):
        try:
            initialise(database)
        except InvalidInput:
            # Another process initialised it between our check and our write.
            if not is_initialised(database):
                raise


def current_actor(database: Database, origin: str, os_user: str | None = None) -> Actor:
    """The actor for the OS user at the desk; a clear error if unknown."""
    name = os_user or current_os_user()
    with database.reading() as session:
        user = session.scalar(select(User).where(User.os_user == name))
        if user is None or not user.active:
            raise PermissionDenied(
                f"OS user {name!r} is not a desk user; an admin can add them with "
                f"'sdx user add {name} --role operator'"
            )
        return actor_for(user, origin)


def _check_os_user(name: str) -> None:
    if not _OS_USER.match(name):
        raise InvalidInput(f"{name!r} is not a valid OS user name")


def default_workspace_id(session: Session, organisation_id: int) -> int:
    """The first workspace of an organisation."""
    workspace = session.scalar(
        select(Workspace.id)
        .where(Workspace.organisation_id == organisation_id)
        .order_by(Workspace.id)
    )
    if workspace is None:
        raise NotFound("the organisation has no workspace")
    return workspace


def add_user(
    database: Database,
    actor: Actor,
    os_user: str,
    *,
    roles: str | Iterable[str],
    email: str = "",
    whatsapp: str = "",
    display_name: str = "",
    time_zone: str = "UTC",
) -> User:
    """Add a person to the actor's organisation (admins only)."""
    require_role(actor, Role.ADMIN)
    os_user = os_user.strip()
    _check_os_user(os_user)
    role_set = parse_roles(roles)
    email = email.strip()
    if email and not _EMAIL.match(email):
        raise InvalidInput(f"{email!r} is not an e-mail address")
    whatsapp = whatsapp.replace(" ", "").strip()
    if whatsapp and not _WHATSAPP.match(whatsapp):
        raise InvalidInput(
            f"{whatsapp!r} is not a WhatsApp number (digits, optional leading +)"
        )
    from sdx_tui.backend.timezones import check_time_zone

    check_time_zone(time_zone)
    with database.session() as session:
        if session.scalar(select(User.id).where(User.os_user == os_user)):
            raise InvalidInput(f"user {os_user!r} exists already")
        user = User(
            os_user=os_user,
            display_name=display_name.strip() or os_user,
            organisation_id=actor.organisation_id,
            roles=_roles_text(role_set),
            email=email,
            whatsapp=whatsapp,
            time_zone=time_zone,
        )
        session.add(user)
        session.flush()
        audit.record(
            session,
            actor,
            "user.added",
            subject_type="user",
            subject_id=user.id,
            detail=f"{os_user} ({user.roles})",
        )
    return user


def list_users(database: Database) -> Sequence[User]:
    """Every user, by OS user name, with their organisation loaded."""
    with database.reading() as session:
        return session.scalars(
            select(User).options(selectinload(User.organisation)).order_by(User.os_user)
        ).all()


def add_organisation(
    database: Database, actor: Actor, name: str, *, parent_id: int | None = None
) -> Organisation:
    """Add a customer organisation below ``parent_id`` (default: the actor's own).

    It gets a default workspace. Admins add organisations only below their own, so
    an MSP's admin manages its customers and a customer's admin cannot climb up.
    """
    require_role(actor, Role.ADMIN)
    name = name.strip()
    if not name:
        raise InvalidInput("the organisation needs a name")
    with database.session() as session:
        parent = actor.organisation_id if parent_id is None else parent_id
        if actor.organisation_id not in organisation_and_ancestors(session, parent):
            raise PermissionDenied(
                f"{actor.name} can only add organisations below their own"
            )
        if session.scalar(select(Organisation.id).where(Organisation.name == name)):
            raise InvalidInput(f"organisation {name!r} exists already")
        organisation = Organisation(name=name, parent_id=parent)
        session.add(organisation)
        session.flush()
        session.add(Workspace(organisation_id=organisation.id, name=DEFAULT_WORKSPACE))
        audit.record(
            session,
            actor,
            "organisation.added",
            subject_type="organisation",
            subject_id=organisation.id,
            detail=name,
        )
    log.info("organisation %s added", name)
    return organisation


def organisation_and_ancestors(session: Session, organisation_id: int) -> list[int]:
    """The organisation's id followed by its parents' ids, nearest first."""
    chain: list[int] = []
    current: int | None = organisation_id
    while current is not None and current not in chain:
        chain.append(current)
        current = session.scalar(
            select(Organisation.parent_id).where(Organisation.id == current)
        )
    return chain
