"""The four-eyes rule and the tokens, attacked from every side."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sdx_tui.backend import approvals
from sdx_tui.backend.approvals import LinkToken
from sdx_tui.backend.errors import DeskError, InvalidInput, PermissionDenied
from sdx_tui.backend.models import (
    ApprovalRequest,
    ApprovalStatus,
    ApprovalToken,
    Script,
    ScriptStatus,
    Site,
)
from sdx_tui.backend.scripts import ScriptChanges, cancel_script, edit_script
from sdx_tui.backend.sites import hash_token
from sdx_tui.cli import main
from sdx_tui.config import Settings
from tests.approvals.conftest import NOW, make_script
from tests.approvals.helpers import arthur_token
from tests.conftest import Desk


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    return settings.with_section("smtp", host="127.0.0.1")


def _request(desk: Desk, script: Script, settings: Settings) -> int:
    return approvals.request_authorization(
        desk.db, desk.operator, script.id, settings=settings, now=NOW
    ).request_id


def _status(desk: Desk, script_id: int) -> ScriptStatus:
    with desk.db.reading() as session:
        script = session.get(Script, script_id)
        assert script is not None
        return script.status


def _forge_author_token(desk: Desk, request_id: int) -> str:
    """A token issued to the author, as if the issuing code had a bug."""
    token = secrets.token_urlsafe(32)
    with desk.db.session() as session:
        session.add(
            ApprovalToken(
                request_id=request_id,
                approver_id=desk.operator.user_id,
                token_hash=hash_token(token),
                expires_at=NOW + timedelta(hours=24),
                csrf_nonce="n",
            )
        )
    return token


def test_the_author_cannot_approve_by_any_path(
    desk: Desk, script: Script, mail_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = _request(desk, script, mail_settings)
    # The author is an approver too: still refused.
    with desk.db.session() as session:
        session.execute(
            update(approvals.User)
            .where(approvals.User.id == desk.operator.user_id)
            .values(roles="approver,operator")
        )
    from sdx_tui.backend.identity import current_actor

    author = current_actor(desk.db, "tui", "olivia")
    assert author.has(approvals.Role.APPROVER)

    with pytest.raises(PermissionDenied, match="wrote script"):
        approvals.approve(desk.db, author, request_id, now=NOW)
    with pytest.raises(PermissionDenied, match="wrote script"):
        approvals.reject(desk.db, author, request_id, "no", now=NOW)
    forged = _forge_author_token(desk, request_id)
    with pytest.raises(PermissionDenied, match="wrote script"):
        approvals.approve(desk.db, LinkToken(forged), request_id, now=NOW)

    monkeypatch.setenv("USER", "olivia")
    monkeypatch.setattr("getpass.getuser", lambda: "olivia")
    monkeypatch.setenv("SDX_DATABASE_URL", desk.db.url)
    assert main(["script", "approve", str(script.id)]) == 1

    assert approvals.pending_for(desk.db, author, now=NOW) == []
    assert _status(desk, script.id) == ScriptStatus.UNAUTHORIZED


def test_an_editor_cannot_approve_and_neither_can_the_requester(
    sqlite_desk: Desk, sqlite_script: Script, settings: Settings
) -> None:
    desk = sqlite_desk
    request_id = _request(desk, sqlite_script, settings)
    # The admin edits the script and asks again: admin may no longer decide.
    edit_script(desk.db, desk.admin, sqlite_script.id, ScriptChanges(description="z"))
    result = approvals.request_authorization(
        desk.db, desk.admin, sqlite_script.id, settings=settings, now=NOW
    )
    assert result.approvers == ("arthur",)
    with pytest.raises(PermissionDenied, match="wrote script"):
        approvals.approve(desk.db, desk.admin, result.request_id, now=NOW)
    with pytest.raises(InvalidInput, match="withdrawn"):
        approvals.approve(desk.db, desk.approver, request_id, now=NOW)
    approvals.approve(desk.db, desk.approver, result.request_id, now=NOW)


def test_a_link_works_once(desk: Desk, script: Script, mail_settings: Settings) -> None:
    request_id = _request(desk, script, mail_settings)
    token = arthur_token(desk.db)
    approvals.approve(desk.db, LinkToken(token), request_id, now=NOW)
    with pytest.raises(PermissionDenied, match="used already"):
        approvals.approve(desk.db, LinkToken(token), request_id, now=NOW)
    with pytest.raises(PermissionDenied, match="used already"):
        approvals.reject(desk.db, LinkToken(token), request_id, "late", now=NOW)
    assert "used already" in approvals.check_link(desk.db, token, now=NOW).problem


def test_an_expired_link_is_refused_and_the_request_expires(
    sqlite_desk: Desk, sqlite_script: Script, mail_settings: Settings
) -> None:
    desk = sqlite_desk
    request_id = _request(desk, sqlite_script, mail_settings)
    token = arthur_token(desk.db)
    later = NOW + timedelta(hours=24, seconds=1)
    assert "expired" in approvals.check_link(desk.db, token, now=later).problem
    with pytest.raises(InvalidInput, match="expired"):
        approvals.approve(desk.db, LinkToken(token), request_id, now=later)
    with pytest.raises(InvalidInput, match="expired"):
        approvals.approve(desk.db, desk.approver, request_id, now=later)
    with desk.db.reading() as session:
        request = session.get(ApprovalRequest, request_id)
        assert request is not None and request.status == ApprovalStatus.EXPIRED
    assert _status(desk, sqlite_script.id) == ScriptStatus.UNAUTHORIZED


def test_voided_links_are_refused(
    sqlite_desk: Desk, sqlite_script: Script, mail_settings: Settings
) -> None:
    desk = sqlite_desk
    request_id = _request(desk, sqlite_script, mail_settings)
    token = arthur_token(desk.db)
    cancel_script(desk.db, desk.operator, sqlite_script.id)
    assert "withdrawn" in approvals.check_link(desk.db, token, now=NOW).problem
    with pytest.raises(InvalidInput, match="withdrawn"):
        approvals.approve(desk.db, LinkToken(token), request_id, now=NOW)


def test_guessed_tokens_are_refused(
    sqlite_desk: Desk, sqlite_script: Script, mail_settings: Settings
) -> None:
    desk = sqlite_desk
    request_id = _request(desk, sqlite_script, mail_settings)
    token = arthur_token(desk.db)
    guesses = [secrets.token_urlsafe(32) for _ in range(20)]
    guesses += [token[:-1], token.upper(), "", hash_token(token)]
    for guess in guesses:
        if guess == token:
            continue
        check = approvals.check_link(desk.db, guess, now=NOW)
        assert check.request_id is None and not check.usable
        with pytest.raises(PermissionDenied, match="not valid"):
            approvals.approve(desk.db, LinkToken(guess), request_id, now=NOW)
    assert _status(desk, sqlite_script.id) == ScriptStatus.UNAUTHORIZED


def test_a_token_of_one_request_cannot_decide_another(
    sqlite_desk: Desk, mail_settings: Settings
) -> None:
    desk = sqlite_desk
    first = make_script(desk)
    second = make_script(desk, targets=("oslo",))
    first_request = _request(desk, first, mail_settings)
    token_of_first = arthur_token(desk.db)
    second_request = _request(desk, second, mail_settings)
    with pytest.raises(PermissionDenied, match="another request"):
        approvals.approve(desk.db, LinkToken(token_of_first), second_request, now=NOW)
    assert _status(desk, second.id) == ScriptStatus.UNAUTHORIZED
    approvals.approve(desk.db, LinkToken(token_of_first), first_request, now=NOW)


def test_a_change_between_request_and_approval_is_refused(
    desk: Desk, script: Script, mail_settings: Settings
) -> None:
    request_id = _request(desk, script, mail_settings)
    token = arthur_token(desk.db)
    # A change that does not go through edit_script (say, a site moved to
    # another RouterOS version does not matter, but a target added in the
    # database does): the hash check catches it at approval time.
    with desk.db.session() as session:
        from sdx_tui.backend.models import ScriptTarget

        oslo = Site(workspace_id=1, name="oslo", token_hash="x" * 64)
        session.add(oslo)
        session.flush()
        session.add(ScriptTarget(script_id=script.id, site_id=oslo.id))
    with pytest.raises(InvalidInput, match="changed since"):
        approvals.approve(desk.db, LinkToken(token), request_id, now=NOW)
    with desk.db.reading() as session:
        request = session.get(ApprovalRequest, request_id)
        assert request is not None and request.status == ApprovalStatus.VOIDED
    assert _status(desk, script.id) == ScriptStatus.UNAUTHORIZED


def test_an_edit_between_request_and_approval_voids_the_request(
    desk: Desk, script: Script, mail_settings: Settings
) -> None:
    request_id = _request(desk, script, mail_settings)
    edit_script(desk.db, desk.operator, script.id, ScriptChanges(content=":put 2\n"))
    with pytest.raises(InvalidInput, match="withdrawn"):
        approvals.approve(desk.db, desk.approver, request_id, now=NOW)
    assert _status(desk, script.id) == ScriptStatus.UNAUTHORIZED


def test_someone_outside_the_approvers_cannot_decide(
    sqlite_desk: Desk, sqlite_script: Script, settings: Settings
) -> None:
    desk = sqlite_desk
    request_id = _request(desk, sqlite_script, settings)
    from sdx_tui.backend.identity import add_user, current_actor

    add_user(desk.db, desk.admin, "late", roles="approver")
    latecomer = current_actor(desk.db, "tui", "late")
    with pytest.raises(PermissionDenied, match="not one of the approvers"):
        approvals.approve(desk.db, latecomer, request_id, now=NOW)
    operator_only = desk.operator
    with pytest.raises(DeskError):
        approvals.reject(desk.db, operator_only, request_id, "no", now=NOW)


def test_only_one_of_two_approvers_decides(
    desk: Desk, script: Script, mail_settings: Settings
) -> None:
    request_id = _request(desk, script, mail_settings)
    approvals.approve(desk.db, desk.admin, request_id, now=NOW)
    with pytest.raises(InvalidInput, match="approved already"):
        approvals.reject(desk.db, desk.approver, request_id, "too late", now=NOW)
    token = arthur_token_or_none(desk)
    assert token is None  # arthur's unsent link was withdrawn with the decision


def arthur_token_or_none(desk: Desk) -> str | None:
    from tests.approvals.helpers import pending_links

    return pending_links(desk.db).get(("email", "arthur@example.test"))


def test_tokens_are_never_stored_in_clear(
    sqlite_desk: Desk, sqlite_script: Script, mail_settings: Settings
) -> None:
    desk = sqlite_desk
    _request(desk, sqlite_script, mail_settings)
    token = arthur_token(desk.db)
    with desk.db.reading() as session:
        hashes = list(session.scalars(select(ApprovalToken.token_hash)))
    assert token not in hashes
    assert hash_token(token) in hashes
