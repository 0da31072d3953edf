"""Customer organisations below an MSP, and the sites that belong to them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sdx_tui.backend.errors import InvalidInput, PermissionDenied
from sdx_tui.backend.identity import (
    Actor,
    add_organisation,
    add_user,
    current_actor,
    list_users,
)
from sdx_tui.backend.models import AuditEvent, User, Workspace
from sdx_tui.backend.sites import add_site, get_site, list_sites
from tests.conftest import Desk


def _admin_of(desk: Desk, organisation_id: int) -> Actor:
    """An admin who belongs to a customer organisation."""
    add_user(desk.db, desk.admin, "carol", roles="admin")
    with desk.db.session() as session:
        carol = session.scalar(select(User).where(User.os_user == "carol"))
        assert carol is not None
        carol.organisation_id = organisation_id
    return current_actor(desk.db, "cli", "carol")


def test_an_admin_adds_a_customer_below_their_organisation(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    customer = add_organisation(desk.db, desk.admin, "Contoso Retail")

    assert customer.parent_id == desk.admin.organisation_id
    with desk.db.reading() as session:
        workspaces = session.scalars(
            select(Workspace.name).where(Workspace.organisation_id == customer.id)
        ).all()
        actions = session.scalars(select(AuditEvent.action)).all()
    assert workspaces == ["default"]
    assert "organisation.added" in actions


def test_organisation_names_are_unique_and_needed(sqlite_desk: Desk) -> None:
    add_organisation(sqlite_desk.db, sqlite_desk.admin, "Contoso")
    with pytest.raises(InvalidInput, match="exists already"):
        add_organisation(sqlite_desk.db, sqlite_desk.admin, "Contoso")
    with pytest.raises(InvalidInput, match="needs a name"):
        add_organisation(sqlite_desk.db, sqlite_desk.admin, "  ")


def test_only_admins_add_organisations(sqlite_desk: Desk) -> None:
    with pytest.raises(PermissionDenied):
        add_organisation(sqlite_desk.db, sqlite_desk.operator, "Contoso")


def test_a_customer_admin_cannot_add_above_or_beside_itself(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    first = add_organisation(desk.db, desk.admin, "First")
    second = add_organisation(desk.db, desk.admin, "Second")
    customer_admin = _admin_of(desk, first.id)

    with pytest.raises(PermissionDenied):
        add_organisation(
            desk.db, customer_admin, "Up", parent_id=desk.admin.organisation_id
        )
    with pytest.raises(PermissionDenied):
        add_organisation(desk.db, customer_admin, "Beside", parent_id=second.id)
    assert add_organisation(desk.db, customer_admin, "Branch").parent_id == first.id


def test_a_site_can_belong_to_a_customer(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    customer = add_organisation(desk.db, desk.admin, "Contoso Retail")
    add_site(desk.db, desk.admin, "contoso-hq", organisation_id=customer.id)
    add_site(desk.db, desk.admin, "noc-core")

    site = get_site(desk.db, "contoso-hq")
    assert site.workspace.organisation.name == "Contoso Retail"
    owners = {s.name: s.workspace.organisation.name for s in list_sites(desk.db)}
    assert owners == {"contoso-hq": "Contoso Retail", "noc-core": "Test NOC"}


def test_a_site_cannot_go_to_an_organisation_above_the_actor(
    sqlite_desk: Desk,
) -> None:
    desk = sqlite_desk
    customer = add_organisation(desk.db, desk.admin, "Contoso Retail")
    customer_admin = _admin_of(desk, customer.id)

    with pytest.raises(PermissionDenied):
        add_site(
            desk.db,
            customer_admin,
            "msp-core",
            organisation_id=desk.admin.organisation_id,
        )
    assert [site.name for site in list_sites(desk.db)] == []


def test_users_come_with_their_organisation(sqlite_desk: Desk) -> None:
    names = {
        user.os_user: user.organisation.name for user in list_users(sqlite_desk.db)
    }
    assert names == {"admin": "Test NOC", "olivia": "Test NOC", "arthur": "Test NOC"}
