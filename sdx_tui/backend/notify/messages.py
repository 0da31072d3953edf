"""The words of the notifications: approval requests by e-mail and WhatsApp.

An approval link carries its token in clear, so every text that holds one goes
through :func:`scrub_links` before it is logged, stored as an error, or kept
after the message was sent.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_LINK_TOKEN = re.compile(r"(/approve/)[A-Za-z0-9_-]{8,}")
SCRUBBED = "[sent]"
"""What replaces a link's token once the message is out."""


def scrub_links(text: str) -> str:
    """``text`` with the token of every approval link replaced."""
    return _LINK_TOKEN.sub(lambda match: match.group(1) + SCRUBBED, text)


def approval_link(base_url: str, token: str) -> str:
    """The URL an approver follows to review one request."""
    return f"{base_url.rstrip('/')}/approve/{token}"


@dataclass(frozen=True)
class ApprovalNotice:
    """What an approver is told about a request, before any channel's wording."""

    approver_name: str
    requested_by: str
    script_id: int
    description: str
    targets: int
    launch_local: str
    expires_local: str
    link: str


@dataclass(frozen=True)
class EmailContent:
    """An e-mail: subject, plain-text part and HTML part."""

    subject: str
    text: str
    html: str


def approval_email(notice: ApprovalNotice) -> EmailContent:
    """The e-mail asking one approver to review a script."""
    sites = "1 site" if notice.targets == 1 else f"{notice.targets} sites"
    subject = f"Approval needed: {notice.description} (script {notice.script_id})"
    text = (
        f"Hello {notice.approver_name},\n\n"
        f"{notice.requested_by} asks you to approve script {notice.script_id}:\n"
        f"  {notice.description}\n"
        f"  {sites}, launch {notice.launch_local}\n\n"
        f"Review it and approve or reject it here:\n{notice.link}\n\n"
        f"The link works once and expires {notice.expires_local}.\n"
        "You can also decide in SDX desk (F4 Approvals).\n"
    )
    e = html.escape
    body = (
        "<!DOCTYPE html><html><body>"
        f"<p>Hello {e(notice.approver_name)},</p>"
        f"<p>{e(notice.requested_by)} asks you to approve script "
        f"{notice.script_id}:</p>"
        f"<p><strong>{e(notice.description)}</strong><br>"
        f"{e(sites)}, launch {e(notice.launch_local)}</p>"
        f'<p><a href="{e(notice.link)}">Review and approve or reject</a></p>'
        f"<p>The link works once and expires {e(notice.expires_local)}. "
        "You can also decide in SDX desk (F4 Approvals).</p>"
        "</body></html>"
    )
    return EmailContent(subject=subject, text=text, html=body)


def approval_whatsapp(notice: ApprovalNotice) -> str:
    """The WhatsApp text asking one approver to review a script."""
    sites = "1 site" if notice.targets == 1 else f"{notice.targets} sites"
    return (
        f"SDX desk: {notice.requested_by} asks you to approve script "
        f"{notice.script_id} ({notice.description}; {sites}, launch "
        f"{notice.launch_local}). Review: {notice.link} "
        f"(single use, expires {notice.expires_local})"
    )
