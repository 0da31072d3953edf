"""Sites: the RouterOS devices of the fleet, and their bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from sdx_tui.backend import audit
from sdx_tui.backend.db import Database
from sdx_tui.backend.errors import InvalidInput, NotFound, PermissionDenied
from sdx_tui.backend.identity import (
    Actor,
    default_workspace_id,
    organisation_and_ancestors,
    require_role,
)
from sdx_tui.backend.models import Role, Site, Workspace
from sdx_tui.backend.timezones import check_time_zone

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_VERSION = re.compile(r"^[67]\.\d{1,2}(\.\d{1,2})?$")
_TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")


def new_token() -> str:
    """A fresh site token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of a token (SHA-256; tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    """Compare a presented token with a stored hash in constant time."""
    return hmac.compare_digest(hash_token(token), token_hash)


def check_site_name(name: str) -> str:
    """The name stripped, or :class:`InvalidInput` explaining what is wrong."""
    name = name.strip()
    if not _NAME.match(name):
        raise InvalidInput(
            f"{name!r} is not a valid site name (letters, digits, '.', '_', '-')"
        )
    return name


def check_version(version: str) -> str:
    """A RouterOS version such as ``7.16`` or ``6.49.10``."""
    version = version.strip()
    if not _VERSION.match(version):
        raise InvalidInput(f"{version!r} is not a RouterOS version such as 7.16")
    return version


def parse_tags(tags: str | Iterable[str]) -> list[str]:
    """Tags from ``"core,berlin"`` or a list, de-duplicated and checked."""
    parts = tags.split(",") if isinstance(tags, str) else list(tags)
    result: list[str] = []
    for tag in (part.strip() for part in parts):
        if not tag:
            continue
        if not _TAG.match(tag):
            raise InvalidInput(f"{tag!r} is not a valid tag")
        if tag not in result:
            result.append(tag)
    return result


def add_site(
    database: Database,
    actor: Actor,
    name: str,
    *,
    routeros_version: str = "7.16",
    time_zone: str = "UTC",
    tags: str | Iterable[str] = (),
    address: str = "",
    organisation_id: int | None = None,
) -> tuple[Site, str]:
    """Add a site; returns it with its token, which is shown once and never stored.

    The site belongs to ``organisation_id`` (the actor's own or one below it, such
    as an MSP's customer), by default the actor's organisation.
    """
    require_role(actor, Role.ADMIN)
    name = check_site_name(name)
    routeros_version = check_version(routeros_version)
    check_time_zone(time_zone)
    tag_list = parse_tags(tags)
    token = new_token()
    with database.session() as session:
        owner = actor.organisation_id if organisation_id is None else organisation_id
        if actor.organisation_id not in organisation_and_ancestors(session, owner):
            raise PermissionDenied(
                f"{actor.name} can only add sites to their organisation or below it"
            )
        workspace_id = default_workspace_id(session, owner)
        if session.scalar(select(Site.id).where(Site.name == name)):
            raise InvalidInput(f"site {name!r} exists already")
        site = Site(
            workspace_id=workspace_id,
            name=name,
            routeros_version=routeros_version,
            time_zone=time_zone,
            tags=tag_list,
            address=address.strip(),
            token_hash=hash_token(token),
        )
        session.add(site)
        session.flush()
        audit.record(
            session,
            actor,
            "site.added",
            subject_type="site",
            subject_id=site.id,
            detail=name,
        )
    log.info("site %s added", name)
    return site, token


def rotate_token(database: Database, actor: Actor, name: str) -> str:
    """Give a site a new token; the old one stops working at once."""
    require_role(actor, Role.ADMIN)
    token = new_token()
    with database.session() as session:
        site = _by_name(session, name)
        site.token_hash = hash_token(token)
        audit.record(
            session,
            actor,
            "site.token_rotated",
            subject_type="site",
            subject_id=site.id,
            detail=site.name,
        )
    log.info("site %s token rotated", name)
    return token


_WITH_ORGANISATION = joinedload(Site.workspace).joinedload(Workspace.organisation)


def _by_name(session: Session, name: str) -> Site:
    site = session.scalar(
        select(Site).where(Site.name == name.strip()).options(_WITH_ORGANISATION)
    )
    if site is None:
        raise NotFound(f"no site named {name!r}")
    return site


def get_site(database: Database, name: str) -> Site:
    """The site called ``name``, with its workspace and organisation loaded."""
    with database.reading() as session:
        return _by_name(session, name)


def list_sites(
    database: Database, *, search: str = "", tag: str = ""
) -> Sequence[Site]:
    """Sites by name, with their organisation; optionally filtered by name or tag."""
    with database.reading() as session:
        query = select(Site).options(_WITH_ORGANISATION).order_by(Site.name)
        if search:
            query = query.where(Site.name.contains(search.strip()))
        sites = session.scalars(query).all()
    if tag:
        sites = [site for site in sites if tag in site.tags]
    return sites


def sites_by_names(session: Session, names: Iterable[str]) -> list[Site]:
    """The sites named, in order; :class:`NotFound` names the first unknown one."""
    wanted = [name.strip() for name in names if name.strip()]
    found = {
        site.name: site
        for site in session.scalars(select(Site).where(Site.name.in_(wanted)))
    }
    missing = [name for name in wanted if name not in found]
    if missing:
        raise NotFound(f"no site named {missing[0]!r}")
    return [found[name] for name in dict.fromkeys(wanted)]
