"""Requesting authorization: the gate, the tokens, the messages, voiding."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from sdx_tui.backend import approvals
from sdx_tui.backend.errors import InvalidInput, PermissionDenied
from sdx_tui.backend.identity import add_user
from sdx_tui.backend.models import (
    ApprovalRequest,
    ApprovalStatus,
    ApprovalToken,
    AuditEvent,
    OutboxMessage,
    OutboxStatus,
    Script,
    ScriptStatus,
)
from sdx_tui.backend.scripts import ScriptChanges, cancel_script, edit_script
from sdx_tui.backend.sites import hash_token
from sdx_tui.config import Settings
from tests.approvals.conftest import NOW, make_script
from tests.approvals.helpers import arthur_token, pending_links
from tests.conftest import Desk


@pytest.fixture
def notify_settings(settings: Settings) -> Settings:
    """Both channels set up (nothing is sent in these tests)."""
    return settings.with_section("smtp", host="127.0.0.1").with_section(
        "whatsapp", phone_number_id="1065", access_token="secret"
    )


def test_a_request_gives_each_eligible_approver_one_hashed_token(
    desk: Desk, script: Script, notify_settings: Settings
) -> None:
    result = approvals.request_authorization(
        desk.db, desk.operator, script.id, settings=notify_settings, now=NOW
    )

    assert result.approvers == ("admin", "arthur")
    assert result.expires_at == NOW + timedelta(hours=24)
    assert result.messages_queued == 2
    assert any("admin gets no link" in note for note in result.notes)
    with desk.db.reading() as session:
        tokens = session.scalars(select(ApprovalToken)).all()
        request = session.scalars(select(ApprovalRequest)).one()
    assert len(tokens) == 2
    assert request.status == ApprovalStatus.OPEN
    assert request.revision == script.revision
    assert len(request.content_hash) == 64

    links = pending_links(desk.db)
    assert set(links) == {
        ("email", "arthur@example.test"),
        ("whatsapp", "+4915112345678"),
    }
    token = arthur_token(desk.db)
    assert len(token) >= 43  # 32 random bytes, URL-safe
    stored = {row.token_hash for row in tokens}
    assert hash_token(token) in stored
    assert token not in stored


def test_the_links_point_at_the_public_endpoint(
    sqlite_desk: Desk, sqlite_script: Script, notify_settings: Settings
) -> None:
    approvals.request_authorization(
        sqlite_desk.db, sqlite_desk.operator, sqlite_script.id, settings=notify_settings
    )
    with sqlite_desk.db.reading() as session:
        email = session.scalars(
            select(OutboxMessage).where(OutboxMessage.channel == "email")
        ).one()
    assert "https://desk.example.test/approve/" in email.body
    assert "https://desk.example.test/approve/" in email.html
    assert "Switch DNS to Quad9" in email.subject
    # arthur lives in UTC by default; the launch is shown in his zone.
    assert "2026-12-24 01:00 UTC" in email.body


def test_no_channel_set_up_queues_nothing_but_the_request_stands(
    sqlite_desk: Desk, sqlite_script: Script, settings: Settings
) -> None:
    result = approvals.request_authorization(
        sqlite_desk.db, sqlite_desk.operator, sqlite_script.id, settings=settings
    )
    assert result.messages_queued == 0
    assert len(result.notes) == 2
    pending = approvals.pending_for(sqlite_desk.db, sqlite_desk.approver)
    assert [p.request_id for p in pending] == [result.request_id]


def test_lint_errors_refuse_the_request(sqlite_desk: Desk, settings: Settings) -> None:
    script = make_script(sqlite_desk, content=":put [/system identity get name\n")
    with pytest.raises(InvalidInput, match="lint error"):
        approvals.request_authorization(
            sqlite_desk.db, sqlite_desk.operator, script.id, settings=settings
        )
    with sqlite_desk.db.reading() as session:
        assert session.scalar(select(func.count(ApprovalRequest.id))) == 0


def test_no_targets_or_no_launch_time_refuse_the_request(
    sqlite_desk: Desk, settings: Settings
) -> None:
    bare = make_script(sqlite_desk, targets=())
    with pytest.raises(InvalidInput, match="no targets"):
        approvals.request_authorization(
            sqlite_desk.db, sqlite_desk.operator, bare.id, settings=settings
        )
    unscheduled = make_script(sqlite_desk, launch_at=None)
    with pytest.raises(InvalidInput, match="no launch time"):
        approvals.request_authorization(
            sqlite_desk.db, sqlite_desk.operator, unscheduled.id, settings=settings
        )


def test_no_eligible_approver_refuses_the_request(
    sqlite_desk: Desk, settings: Settings
) -> None:
    # The admin writes the script and arthur edits it: neither may approve it.
    from sdx_tui.backend.scripts import create_script
    from sdx_tui.backend.sites import add_site

    add_site(sqlite_desk.db, sqlite_desk.admin, "oslo")
    script = create_script(
        sqlite_desk.db,
        sqlite_desk.admin,
        description="x",
        content=":put 1\n",
        targets=["oslo"],
        launch_at=NOW,
    )
    with sqlite_desk.db.session() as session:
        from sdx_tui.backend.models import User

        arthur = session.get(User, sqlite_desk.approver.user_id)
        assert arthur is not None
        arthur.roles = "approver,operator"
    from sdx_tui.backend.identity import current_actor

    editor = current_actor(sqlite_desk.db, "tui", "arthur")
    edit_script(sqlite_desk.db, editor, script.id, ScriptChanges(content=":put 2\n"))
    with pytest.raises(PermissionDenied, match="nobody can approve"):
        approvals.request_authorization(
            sqlite_desk.db, sqlite_desk.operator, script.id, settings=settings
        )


def test_approvers_of_a_parent_organisation_are_asked_but_not_of_another(
    sqlite_desk: Desk, settings: Settings
) -> None:
    from sdx_tui.backend.identity import add_organisation, current_actor
    from sdx_tui.backend.scripts import create_script
    from sdx_tui.backend.sites import add_site

    customer = add_organisation(sqlite_desk.db, sqlite_desk.admin, "Customer")
    sibling = add_organisation(sqlite_desk.db, sqlite_desk.admin, "Sibling")
    add_user(sqlite_desk.db, sqlite_desk.admin, "carla", roles="operator,approver")
    add_user(sqlite_desk.db, sqlite_desk.admin, "sven", roles="approver")
    with sqlite_desk.db.session() as session:
        from sdx_tui.backend.models import User

        for name, org in (("carla", customer.id), ("sven", sibling.id)):
            user = session.scalars(select(User).where(User.os_user == name)).one()
            user.organisation_id = org
    carla = current_actor(sqlite_desk.db, "tui", "carla")
    add_site(sqlite_desk.db, sqlite_desk.admin, "cust-1", organisation_id=customer.id)
    script = create_script(
        sqlite_desk.db,
        carla,
        description="customer change",
        content=":put 1\n",
        targets=["cust-1"],
        launch_at=NOW,
    )
    result = approvals.request_authorization(
        sqlite_desk.db, carla, script.id, settings=settings
    )
    assert result.approvers == ("admin", "arthur")


def test_edit_cancel_and_a_new_request_void_every_open_token(
    desk: Desk, script: Script, notify_settings: Settings
) -> None:
    first = approvals.request_authorization(
        desk.db, desk.operator, script.id, settings=notify_settings, now=NOW
    )
    second = approvals.request_authorization(
        desk.db, desk.operator, script.id, settings=notify_settings, now=NOW
    )
    assert second.voided == 1
    edit_script(desk.db, desk.operator, script.id, ScriptChanges(description="y"))
    third = approvals.request_authorization(
        desk.db, desk.operator, script.id, settings=notify_settings, now=NOW
    )
    cancel_script(desk.db, desk.operator, script.id)

    with desk.db.reading() as session:
        statuses = {
            row.id: row.status
            for row in session.execute(
                select(ApprovalRequest.id, ApprovalRequest.status)
            )
        }
        open_tokens = session.scalar(
            select(func.count(ApprovalToken.id)).where(
                ApprovalToken.voided_at.is_(None)
            )
        )
        messages = session.scalars(select(OutboxMessage)).all()
    assert statuses == {
        first.request_id: ApprovalStatus.VOIDED,
        second.request_id: ApprovalStatus.VOIDED,
        third.request_id: ApprovalStatus.VOIDED,
    }
    assert open_tokens == 0
    # The dead links are withdrawn, and their tokens with them.
    assert {m.status for m in messages} == {OutboxStatus.WITHDRAWN}
    assert not any("/approve/" in m.body or "/approve/" in m.html for m in messages)


def test_only_unauthorized_scripts_can_be_requested(
    sqlite_desk: Desk, sqlite_script: Script, settings: Settings
) -> None:
    result = approvals.request_authorization(
        sqlite_desk.db,
        sqlite_desk.operator,
        sqlite_script.id,
        settings=settings,
        now=NOW,
    )
    approvals.approve(sqlite_desk.db, sqlite_desk.approver, result.request_id, now=NOW)
    with pytest.raises(InvalidInput, match="is scheduled"):
        approvals.request_authorization(
            sqlite_desk.db, sqlite_desk.operator, sqlite_script.id, settings=settings
        )


def test_requests_past_their_expiry_expire(
    sqlite_desk: Desk, sqlite_script: Script, notify_settings: Settings
) -> None:
    result = approvals.request_authorization(
        sqlite_desk.db,
        sqlite_desk.operator,
        sqlite_script.id,
        settings=notify_settings,
        now=NOW,
    )
    assert approvals.expire_requests(sqlite_desk.db, now=NOW + timedelta(hours=23)) == 0
    assert approvals.expire_requests(sqlite_desk.db, now=NOW + timedelta(hours=24)) == 1
    with sqlite_desk.db.reading() as session:
        request = session.get(ApprovalRequest, result.request_id)
        assert request is not None and request.status == ApprovalStatus.EXPIRED
    assert approvals.pending_for(sqlite_desk.db, sqlite_desk.approver, now=NOW) == []


def test_approving_schedules_the_script_and_audits_everything(
    desk: Desk, script: Script, notify_settings: Settings
) -> None:
    result = approvals.request_authorization(
        desk.db, desk.operator, script.id, settings=notify_settings, now=NOW
    )
    approvals.review(desk.db, result.request_id, viewer=desk.approver)
    decision = approvals.approve(
        desk.db, desk.approver, result.request_id, now=NOW + timedelta(hours=1)
    )

    assert decision.status == ApprovalStatus.APPROVED
    assert decision.decided_by == "arthur"
    with desk.db.reading() as session:
        stored = session.get(Script, script.id)
        request = session.get(ApprovalRequest, result.request_id)
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.like("approval.%"))
            .order_by(AuditEvent.id)
        ).all()
        used = session.scalar(
            select(func.count(ApprovalToken.id)).where(
                ApprovalToken.used_at.is_not(None)
            )
        )
    assert stored is not None and request is not None
    assert stored.status == ScriptStatus.SCHEDULED
    assert stored.approved_hash == request.content_hash
    assert stored.approved_revision == script.revision
    assert stored.next_launch_at == script.launch_at
    assert request.decided_by_id == desk.approver.user_id
    assert used == 1
    assert [(e.action, e.origin) for e in events] == [
        ("approval.requested", "tui"),
        ("approval.viewed", "tui"),
        ("approval.approved", "tui"),
    ]
    # Once decided, nobody else's link or queue holds it.
    assert approvals.pending_for(desk.db, desk.admin, now=NOW) == []
    with desk.db.reading() as session:
        assert {m.status for m in session.scalars(select(OutboxMessage))} == {
            OutboxStatus.WITHDRAWN
        }


def test_rejecting_needs_a_reason_and_keeps_the_script_unauthorized(
    sqlite_desk: Desk, sqlite_script: Script, settings: Settings
) -> None:
    result = approvals.request_authorization(
        sqlite_desk.db, sqlite_desk.operator, sqlite_script.id, settings=settings
    )
    with pytest.raises(InvalidInput, match="needs a reason"):
        approvals.reject(sqlite_desk.db, sqlite_desk.approver, result.request_id, "  ")
    decision = approvals.reject(
        sqlite_desk.db, sqlite_desk.approver, result.request_id, "wrong resolver"
    )
    assert decision.status == ApprovalStatus.REJECTED
    with sqlite_desk.db.reading() as session:
        stored = session.get(Script, sqlite_script.id)
        request = session.get(ApprovalRequest, result.request_id)
    assert stored is not None and stored.status == ScriptStatus.UNAUTHORIZED
    assert request is not None and request.reason == "wrong resolver"
