"""The demo desk: every state a newcomer should see, the same every time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sdx_tui.backend.approvals import pending_for
from sdx_tui.backend.db import Database
from sdx_tui.backend.demo import populate_demo
from sdx_tui.backend.errors import InvalidInput
from sdx_tui.backend.identity import current_actor
from sdx_tui.backend.models import (
    ApprovalRequest,
    ApprovalStatus,
    LogEntry,
    Organisation,
    Outcome,
    OutcomeStatus,
    Role,
    Run,
    RunKind,
    RunStatus,
    Script,
    ScriptStatus,
    Site,
    User,
)

NOW = datetime(2026, 3, 28, 23, 40, tzinfo=UTC)


def test_every_script_and_outcome_state_is_there(db: Database) -> None:
    """On both databases: the demo drives the lifecycle's SQL on each."""
    populate_demo(db, now=NOW, admin="ada")

    with db.reading() as session:
        script_states = set(session.scalars(select(Script.status)))
        outcome_states = set(session.scalars(select(Outcome.status)))
        run_kinds = set(session.scalars(select(Run.kind)))
        run_states = set(session.scalars(select(Run.status)))
        events = set(session.scalars(select(LogEntry.event)))
    assert script_states == set(ScriptStatus)
    assert outcome_states == set(OutcomeStatus)
    assert {RunKind.LAUNCH, RunKind.TEST} <= run_kinds
    assert {RunStatus.RUNNING, RunStatus.COMPLETED, RunStatus.FAILED} <= run_states
    assert {"created", "polled", "delivered", "result received", "output"} <= events


def test_an_msp_with_two_customers_people_and_sites(sqlite_db: Database) -> None:
    populate_demo(sqlite_db, now=NOW, admin="ada")

    with sqlite_db.reading() as session:
        organisations = session.execute(
            select(Organisation.name, Organisation.parent_id).order_by(Organisation.id)
        ).all()
        users = dict(session.execute(select(User.os_user, User.roles)).all())
        site_count = session.scalar(select(func.count(Site.id))) or 0
        zones = set(session.scalars(select(Site.time_zone)))
        owners = set(
            session.scalars(
                select(Organisation.name)
                .join(Site.workspace)
                .join(Organisation)
                .distinct()
            )
        )
    msp_id = 1
    assert organisations[0] == ("Northwind Networks", None)
    assert {parent for _, parent in organisations[1:]} == {msp_id}
    assert len(organisations) == 3
    assert users == {
        "ada": "admin,approver,operator",
        "olivia": "operator",
        "arthur": "approver",
        "priya": "approver",
    }
    assert 30 <= site_count <= 40
    assert len(zones) >= 4
    assert owners == {name for name, _ in organisations}


def test_approvals_went_through_the_approval_service(sqlite_db: Database) -> None:
    populate_demo(sqlite_db, now=NOW, admin="ada")

    with sqlite_db.reading() as session:
        decisions = dict(
            session.execute(
                select(ApprovalRequest.script_id, ApprovalRequest.status)
            ).all()
        )
        approved = session.execute(
            select(Script.status, Script.approved_hash).where(
                Script.id.in_(
                    [s for s, status in decisions.items() if status == "approved"]
                )
            )
        ).all()
    assert set(decisions.values()) == {
        ApprovalStatus.OPEN,
        ApprovalStatus.APPROVED,
        ApprovalStatus.REJECTED,
    }
    assert all(len(digest) == 64 for _, digest in approved)
    assert {status for status, _ in approved} >= {
        ScriptStatus.SCHEDULED,
        ScriptStatus.LAUNCHED,
        ScriptStatus.COMPLETED,
        ScriptStatus.FAILED,
    }
    # The person running the demo has a request waiting for them in the desk.
    waiting = pending_for(sqlite_db, current_actor(sqlite_db, "tui", "ada"), now=NOW)
    assert [item.description for item in waiting] == [
        "Rotate the SNMP community on Contoso stores"
    ]


def test_the_admin_is_the_person_running_it(sqlite_db: Database) -> None:
    populate_demo(sqlite_db, now=NOW, admin="olivia")

    assert Role.ADMIN in current_actor(sqlite_db, "tui", "olivia").roles
    assert current_actor(sqlite_db, "tui", "olivia-demo").roles == {Role.OPERATOR}


def _picture(database: Database) -> list[tuple[object, ...]]:
    with database.reading() as session:
        scripts = session.execute(
            select(
                Script.description, Script.status, Script.launch_at, Script.content
            ).order_by(Script.id)
        ).all()
        sites = session.execute(
            select(Site.name, Site.routeros_version, Site.last_seen_at).order_by(
                Site.name
            )
        ).all()
        outcomes = session.execute(
            select(Site.name, Outcome.status, Outcome.output, Outcome.error)
            .join(Site)
            .order_by(Outcome.run_id, Site.name)
        ).all()
    return [*map(tuple, scripts), *map(tuple, sites), *map(tuple, outcomes)]


def test_the_same_seed_and_time_give_the_same_desk(tmp_path: Path) -> None:
    pictures = []
    for name in ("one", "two"):
        database = Database.open(f"sqlite:///{tmp_path / name}.db")
        try:
            database.upgrade()
            populate_demo(database, now=NOW, admin="ada")
            pictures.append(_picture(database))
        finally:
            database.dispose()

    assert pictures[0] == pictures[1]


def test_it_refuses_a_database_that_has_a_desk(sqlite_db: Database) -> None:
    populate_demo(sqlite_db, now=NOW, admin="ada")

    with pytest.raises(InvalidInput, match="empty database"):
        populate_demo(sqlite_db, now=NOW, admin="ada")
