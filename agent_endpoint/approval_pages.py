"""The pages an approval link opens: review, then approve or reject.

Plain HTML, no JavaScript. The token in the URL authenticates one approver for
one request. Forms carry the link's anti-forgery nonce, which must also come
back in a cookie set by the review page (double submit), so a form posted from
anywhere else is refused. A link that cannot be used says why and nothing about
the script. Responses are never cached and never send a Referer, which would
carry the token elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape
from string import Template

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers.diff import DiffLexer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from sdx_tui.backend import approvals
from sdx_tui.backend.db import Database, utcnow
from sdx_tui.backend.errors import DeskError, InvalidInput
from sdx_tui.backend.models import ApprovalStatus
from sdx_tui.backend.routeros.lexer import RouterOSLexer
from sdx_tui.backend.timezones import format_in_zone
from sdx_tui.config import Settings

log = logging.getLogger(__name__)

CSRF_COOKIE = "sdx_approval_csrf"
MAX_FORM_BYTES = 16_384

_PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>$title · SDX desk</title>
<style>$style</style>
</head>
<body>
<main>
<h1>$title</h1>
$body
</main>
</body>
</html>
"""
)

_BASE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f5f6f8;
  color: #1c1f24; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
section { background: #fff; border: 1px solid #d6d9de; border-radius: 6px;
  padding: 1rem; margin: 1rem 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #e3e5e8; }
.code { overflow-x: auto; }
.code pre { margin: 0; padding: .75rem; background: #fafbfc; }
.error { color: #a4161a; font-weight: 600; }
.warning { color: #8a5a00; }
.notice { background: #fff3cd; border-color: #e6c65c; }
form { display: inline-block; vertical-align: top; margin-right: 2rem; }
textarea { width: 28rem; max-width: 100%; min-height: 4rem; }
button { font-size: 1rem; padding: .4rem 1.2rem; }
"""


def _style() -> str:
    formatter = HtmlFormatter(style="default")
    return _BASE_STYLE + str(formatter.get_style_defs(".code"))


def _headers(style: str) -> dict[str, str]:
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{digest}'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


class ApprovalPages:
    """The handlers, bound to the desk's settings and database."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.database = database
        self.clock = clock
        self.style = _style()
        self.headers = _headers(self.style)
        self.secure_cookie = settings.endpoint.base_url().startswith("https://")

    # -- responses ---------------------------------------------------------------

    def page(self, title: str, body: str, status: int = 200) -> HTMLResponse:
        """A whole page; ``body`` is HTML built from escaped parts."""
        content = _PAGE.substitute(title=escape(title), style=self.style, body=body)
        return HTMLResponse(content, status_code=status, headers=self.headers)

    def refusal(self, message: str, status: int) -> HTMLResponse:
        """A page that says why a link cannot be used, and nothing else."""
        body = f"<section><p>{escape(message)}</p></section>"
        return self.page("Approval link", body, status)

    # -- handlers ----------------------------------------------------------------

    async def show(self, request: Request) -> HTMLResponse:
        """GET /approve/{token}: the review with the approve and reject forms."""
        token = request.path_params["token"]
        check = await run_in_threadpool(
            approvals.check_link, self.database, token, now=self.clock()
        )
        if not check.usable:
            return self._refused(check)
        return await self._review_page(request, token, check)

    async def decide(self, request: Request) -> HTMLResponse:
        """POST /approve/{token}: approve or reject."""
        token = request.path_params["token"]
        check = await run_in_threadpool(
            approvals.check_link, self.database, token, now=self.clock()
        )
        if not check.usable:
            return self._refused(check)

        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            return self.refusal("The form is too large.", 413)
        form = await request.form(max_files=0, max_fields=10)
        presented = str(form.get("csrf", ""))
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not (
            approvals.csrf_matches(check, presented)
            and approvals.csrf_matches(check, cookie)
        ):
            log.warning(
                "approval form for request %s refused: bad CSRF", check.request_id
            )
            return self.refusal(
                "This form did not come from the approval page, or the page is too "
                "old. Open the link from your message again.",
                403,
            )

        decision = str(form.get("decision", ""))
        reason = str(form.get("reason", ""))
        try:
            request_id = int(str(form.get("request", "")))
        except ValueError:
            return self.refusal("The form is incomplete.", 400)
        if decision == "reject" and not reason.strip():
            return await self._review_page(
                request,
                token,
                check,
                error="Give a reason for the rejection.",
                status=400,
            )
        if decision not in ("approve", "reject"):
            return self.refusal("The form is incomplete.", 400)
        return await self._apply(token, request_id, decision, reason, check.time_zone)

    async def _apply(
        self, token: str, request_id: int, decision: str, reason: str, zone: str
    ) -> HTMLResponse:
        link = approvals.LinkToken(token)
        now = self.clock()
        try:
            if decision == "approve":
                result = await run_in_threadpool(
                    approvals.approve, self.database, link, request_id, now=now
                )
            else:
                result = await run_in_threadpool(
                    approvals.reject, self.database, link, request_id, reason, now=now
                )
        except DeskError as error:
            status = 400 if isinstance(error, InvalidInput) else 403
            return self.refusal(f"Not done: {error}", status)

        if result.status == ApprovalStatus.APPROVED:
            when = format_in_zone(result.next_launch_at, zone)
            body = (
                f"<section><p>You approved script {result.script_id}. It is "
                f"scheduled to launch {escape(when)}.</p></section>"
            )
            return self.page("Approved", body)
        body = (
            f"<section><p>You rejected script {result.script_id}. Its author "
            "will see your reason in SDX desk.</p></section>"
        )
        return self.page("Rejected", body)

    def _refused(self, check: approvals.LinkCheck) -> HTMLResponse:
        status = 404 if check.request_id is None else 410
        if check.request_id is None:
            log.warning("unknown approval link presented")
        else:
            log.info(
                "approval link of request %s refused: %s",
                check.request_id,
                check.problem,
            )
        return self.refusal(check.problem, status)

    async def _review_page(
        self,
        request: Request,
        token: str,
        check: approvals.LinkCheck,
        *,
        error: str = "",
        status: int = 200,
    ) -> HTMLResponse:
        assert check.request_id is not None and check.approver is not None
        data = await run_in_threadpool(
            approvals.review, self.database, check.request_id, viewer=check.approver
        )
        body = render_review(data, csrf=check.csrf_nonce, error=error)
        response = self.page(f"Approve script {data.script_id}?", body, status)
        response.set_cookie(
            CSRF_COOKIE,
            check.csrf_nonce,
            path=f"/approve/{token}",
            httponly=True,
            samesite="strict",
            secure=self.secure_cookie,
        )
        return response


# -- the review, as HTML -------------------------------------------------------


def _list(items: Sequence[str]) -> str:
    return ", ".join(escape(item) for item in items) or "none"


def _highlighted(text: str, *, diff: bool = False) -> str:
    lexer = DiffLexer() if diff else RouterOSLexer()
    return str(highlight(text, lexer, HtmlFormatter(cssclass="code")))


def _findings(review: approvals.Review) -> str:
    if not review.findings:
        return "<p>No findings.</p>"
    rows = "".join(
        f'<tr class="{escape(f.severity)}"><td>{f.line}:{f.column}</td>'
        f"<td>{escape(f.severity)}</td><td>{escape(f.code)}</td>"
        f"<td>{escape(f.message)}</td><td>{_list(f.sites)}</td></tr>"
        for f in review.findings
    )
    return (
        "<table><tr><th>Where</th><th>Severity</th><th>Code</th><th>Finding</th>"
        f"<th>Sites</th></tr>{rows}</table>"
    )


def _test(review: approvals.Review) -> str:
    test = review.test
    if test is None:
        return "<p>No test run yet.</p>"
    stale = (
        f" (of revision {test.revision}; the script is at revision {review.revision})"
        if test.revision != review.revision
        else ""
    )
    rows = "".join(
        f"<tr><td>{escape(o.site)}</td><td>{escape(o.status)}</td>"
        f"<td><pre>{escape(o.error or o.output)}</pre></td></tr>"
        for o in test.outcomes
    )
    return (
        f"<p>Run {test.run_id}: {escape(test.status)}{escape(stale)}</p>"
        f"<table><tr><th>Site</th><th>Outcome</th><th>Output</th></tr>{rows}</table>"
    )


def render_review(review: approvals.Review, *, csrf: str, error: str = "") -> str:
    """The body of the review page: facts, script, findings, test, forms."""
    parts: list[str] = []
    if error:
        parts.append(
            f'<section class="notice"><p class="error">{escape(error)}</p></section>'
        )
    if not review.unchanged:
        parts.append(
            '<section class="notice"><p>What will run changed since the approval '
            "was requested; approving will be refused.</p></section>"
        )
    recurrence = review.recurrence or "once"
    parts.append(
        "<section><dl>"
        f"<dt>Description</dt><dd>{escape(review.description)}</dd>"
        f"<dt>Author</dt><dd>{escape(review.author)}</dd>"
        f"<dt>Requested by</dt><dd>{escape(review.requested_by)}</dd>"
        f"<dt>Launch</dt><dd>{escape(review.launch_local)}</dd>"
        f"<dt>Repeats</dt><dd>{escape(recurrence)}</dd>"
        f"<dt>Targets</dt><dd>{len(review.targets)}: {_list(review.targets)}</dd>"
        f"<dt>Test site</dt><dd>{escape(review.test_site or 'none')}</dd>"
        f"<dt>Backup first</dt><dd>{'yes' if review.make_backup else 'no'}</dd>"
        f"<dt>Link expires</dt><dd>"
        f"{escape(format_in_zone(review.expires_at, review.time_zone))}</dd>"
        "</dl></section>"
    )
    for block in review.rendered:
        label = (
            "every target"
            if len(block.sites) == len(review.targets)
            else _list(block.sites)
        )
        parts.append(
            f"<section><h2>Script for {label}</h2>{_highlighted(block.text)}</section>"
        )
    parts.append(f"<section><h2>Lint findings</h2>{_findings(review)}</section>")
    parts.append(f"<section><h2>Latest test</h2>{_test(review)}</section>")
    if review.diff:
        parts.append(
            "<section><h2>Changes since the last approved version</h2>"
            f"{_highlighted(chr(10).join(review.diff), diff=True)}</section>"
        )
    token_field = f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
    request_field = f'<input type="hidden" name="request" value="{review.request_id}">'
    parts.append(
        "<section>"
        f'<form method="post">{token_field}{request_field}'
        '<input type="hidden" name="decision" value="approve">'
        '<button type="submit">Approve</button></form>'
        f'<form method="post">{token_field}{request_field}'
        '<input type="hidden" name="decision" value="reject">'
        '<label for="reason">Reason for rejecting</label><br>'
        '<textarea id="reason" name="reason" required maxlength="2000"></textarea><br>'
        '<button type="submit">Reject</button></form>'
        "</section>"
    )
    return "\n".join(parts)


def approval_routes(
    settings: Settings,
    database: Database,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> list[BaseRoute]:
    """The routes of the approval-link pages, for the endpoint to mount."""
    pages = ApprovalPages(settings, database, clock=clock)
    return [
        Route("/approve/{token}", pages.show, methods=["GET"]),
        Route("/approve/{token}", pages.decide, methods=["POST"]),
    ]
