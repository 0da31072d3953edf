"""The approval-link pages: what they show, what they refuse, and CSRF."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from sdx_tui.backend import approvals
from sdx_tui.backend.db import utcnow
from sdx_tui.backend.models import (
    ApprovalToken,
    OutcomeStatus,
    RunKind,
    Script,
    ScriptStatus,
    User,
)
from sdx_tui.backend.runs import create_run
from sdx_tui.backend.scripts import ScriptChanges, edit_script
from sdx_tui.backend.sites import hash_token
from sdx_tui.config import Settings
from tests.approvals.conftest import NOW, Clock, make_script, page_client
from tests.approvals.helpers import arthur_token
from tests.conftest import Desk

DESCRIPTION = "Switch DNS to Quad9"


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    return settings.with_section("smtp", host="127.0.0.1")


def _request(desk: Desk, script: Script, settings: Settings) -> tuple[int, str]:
    result = approvals.request_authorization(
        desk.db, desk.operator, script.id, settings=settings, now=NOW
    )
    return result.request_id, arthur_token(desk.db)


def _csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


def _status(desk: Desk, script_id: int) -> ScriptStatus:
    with desk.db.reading() as session:
        script = session.get(Script, script_id)
        assert script is not None
        return script.status


async def test_the_page_shows_what_the_approver_needs(
    sqlite_desk: Desk, mail_settings: Settings
) -> None:
    desk = sqlite_desk
    with desk.db.session() as session:
        session.execute(
            update(User)
            .where(User.id == desk.approver.user_id)
            .values(time_zone="Europe/Berlin")
        )
    script = make_script(desk, content=":put before\n")
    with desk.db.session() as session:
        session.execute(
            update(Script).where(Script.id == script.id).values(approved_revision=1)
        )
    edit_script(
        desk.db,
        desk.operator,
        script.id,
        ScriptChanges(content='/system reboot\n:log info "<b>done</b>"\n'),
    )
    with desk.db.session() as session:
        run_id = create_run(
            session,
            script_id=script.id,
            kind=RunKind.TEST,
            site_ids=[script.targets[0].id],
            occurrence_at=utcnow(),
            deadline=timedelta(hours=1),
        )
        from sqlalchemy import select

        from sdx_tui.backend.models import Outcome

        outcome = session.scalars(select(Outcome).where(Outcome.run_id == run_id)).one()
        outcome.status = OutcomeStatus.COMPLETED
        outcome.output = "test output here"
    _, token = _request(desk, script, mail_settings)

    async with page_client(mail_settings, desk.db, Clock()) as browser:
        page = await browser.get(f"/approve/{token}")
    assert page.status_code == 200
    text = page.text
    assert DESCRIPTION in text
    assert "olivia" in text
    assert "berlin-core" in text and "paris-edge" in text
    assert "2026-12-24 02:00 CET" in text  # arthur's zone, not UTC
    assert 'class="code"' in text and "<span" in text  # highlighted
    assert "RSC102" in text  # the reboot warning
    assert "&lt;b&gt;done&lt;/b&gt;" in text and "<b>done</b>" not in text
    assert "test output here" in text and "completed" in text
    assert "Changes since the last approved version" in text
    assert "before" in text
    assert "<script" not in text.lower()
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "httponly" in page.headers["set-cookie"].lower()


async def test_everything_shown_is_escaped(
    sqlite_desk: Desk, mail_settings: Settings
) -> None:
    desk = sqlite_desk
    script = make_script(desk)
    edit_script(
        desk.db,
        desk.operator,
        script.id,
        ScriptChanges(description='<script>alert("x")</script>'),
    )
    _, token = _request(desk, script, mail_settings)
    async with page_client(mail_settings, desk.db, Clock()) as browser:
        page = await browser.get(f"/approve/{token}")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.text


async def test_approving_from_the_page(
    desk: Desk, script: Script, mail_settings: Settings
) -> None:
    request_id, token = _request(desk, script, mail_settings)
    async with page_client(mail_settings, desk.db, Clock()) as browser:
        page = await browser.get(f"/approve/{token}")
        done = await browser.post(
            f"/approve/{token}",
            data={
                "csrf": _csrf(page),
                "request": str(request_id),
                "decision": "approve",
            },
        )
        again = await browser.get(f"/approve/{token}")
    assert done.status_code == 200
    assert "2026-12-24 01:00 UTC" in done.text
    assert _status(desk, script.id) == ScriptStatus.SCHEDULED
    assert again.status_code == 410
    assert "used already" in again.text
    assert DESCRIPTION not in again.text


async def test_rejecting_from_the_page_needs_a_reason(
    sqlite_desk: Desk, sqlite_script: Script, mail_settings: Settings
) -> None:
    desk = sqlite_desk
    request_id, token = _request(desk, sqlite_script, mail_settings)
    async with page_client(mail_settings, desk.db, Clock()) as browser:
        page = await browser.get(f"/approve/{token}")
        form = {"csrf": _csrf(page), "request": str(request_id), "decision": "reject"}
        empty = await browser.post(f"/approve/{token}", data={**form, "reason": " "})
        done = await browser.post(
            f"/approve/{token}", data={**form, "reason": "wrong resolver"}
        )
    assert empty.status_code == 400
    assert "Give a reason" in empty.text
    assert done.status_code == 200 and "You rejected script" in done.text
    assert _status(desk, sqlite_script.id) == ScriptStatus.UNAUTHORIZED


async def test_forms_without_the_pages_nonce_and_cookie_are_refused(
    sqlite_desk: Desk, mail_settings: Settings
) -> None:
    desk = sqlite_desk
    first = make_script(desk)
    second = make_script(desk, targets=("oslo",))
    request_id, token = _request(desk, first, mail_settings)
    _, other_token = _request(desk, second, mail_settings)
    form = {"request": str(request_id), "decision": "approve"}

    async with page_client(mail_settings, desk.db, Clock()) as attacker:
        # No page visited: no cookie, a guessed nonce.
        blind = await attacker.post(
            f"/approve/{token}", data={**form, "csrf": secrets.token_urlsafe(24)}
        )
    async with page_client(mail_settings, desk.db, Clock()) as browser:
        page = await browser.get(f"/approve/{token}")
        nonce = _csrf(page)
        missing = await browser.post(f"/approve/{token}", data=form)
        wrong = await browser.post(f"/approve/{token}", data={**form, "csrf": "x"})
        other_page = await browser.get(f"/approve/{other_token}")
        crossed = await browser.post(
            f"/approve/{token}", data={**form, "csrf": _csrf(other_page)}
        )
    async with page_client(mail_settings, desk.db, Clock()) as no_cookie:
        # The right nonce from a form elsewhere, but not this browser's cookie.
        forged = await no_cookie.post(f"/approve/{token}", data={**form, "csrf": nonce})

    for response in (blind, missing, wrong, crossed, forged):
        assert response.status_code == 403
        assert "did not come from the approval page" in response.text
    assert _status(desk, first.id) == ScriptStatus.UNAUTHORIZED


async def test_the_author_cannot_approve_through_a_page(
    sqlite_desk: Desk, sqlite_script: Script, mail_settings: Settings
) -> None:
    desk = sqlite_desk
    request_id, _ = _request(desk, sqlite_script, mail_settings)
    token = secrets.token_urlsafe(32)
    with desk.db.session() as session:
        session.add(
            ApprovalToken(
                request_id=request_id,
                approver_id=desk.operator.user_id,
                token_hash=hash_token(token),
                expires_at=NOW + timedelta(hours=24),
                csrf_nonce="author-nonce",
            )
        )
    async with page_client(mail_settings, desk.db, Clock()) as browser:
        page = await browser.get(f"/approve/{token}")
        done = await browser.post(
            f"/approve/{token}",
            data={
                "csrf": _csrf(page),
                "request": str(request_id),
                "decision": "approve",
            },
        )
    assert done.status_code == 403
    assert "wrote script" in done.text
    assert _status(desk, sqlite_script.id) == ScriptStatus.UNAUTHORIZED


async def test_dead_links_say_why_and_nothing_more(
    sqlite_desk: Desk, mail_settings: Settings
) -> None:
    desk = sqlite_desk
    clock = Clock()
    expiring = make_script(desk)
    _, expired_token = _request(desk, expiring, mail_settings)
    voided = make_script(desk, targets=("oslo",))
    _, voided_token = _request(desk, voided, mail_settings)
    edit_script(desk.db, desk.operator, voided.id, ScriptChanges(description="v2"))

    async with page_client(mail_settings, desk.db, clock) as browser:
        unknown = await browser.get(f"/approve/{secrets.token_urlsafe(32)}")
        withdrawn = await browser.get(f"/approve/{voided_token}")
        clock.advance(timedelta(hours=25))
        expired = await browser.get(f"/approve/{expired_token}")
        late_post = await browser.post(
            f"/approve/{expired_token}",
            data={"csrf": "x", "request": "1", "decision": "approve"},
        )

    assert unknown.status_code == 404 and "not valid" in unknown.text
    assert withdrawn.status_code == 410 and "withdrawn" in withdrawn.text
    assert expired.status_code == 410 and "expired" in expired.text
    assert late_post.status_code == 410
    for response in (unknown, withdrawn, expired, late_post):
        assert DESCRIPTION not in response.text
        assert "berlin-core" not in response.text
        assert "<form" not in response.text
