"""E-mail over SMTP, with STARTTLS, implicit TLS or neither.

smtplib blocks, so callers on an event loop run :func:`send_email` in a thread.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sdx_tui.backend.notify.errors import DeliveryError
from sdx_tui.config import SmtpSettings

SECURITY_MODES = ("starttls", "tls", "none")


def build_email(
    settings: SmtpSettings, *, recipient: str, subject: str, text: str, html: str = ""
) -> EmailMessage:
    """A message with a plain-text part and, when given, an HTML alternative."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    # make_msgid() without a domain asks DNS for our host name, which can hang.
    domain = settings.sender.rpartition("@")[2] or "sdx-desk.invalid"
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def _connect(settings: SmtpSettings, context: ssl.SSLContext) -> smtplib.SMTP:
    if settings.security == "tls":
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    if settings.security == "starttls":
        try:
            client.starttls(context=context)
        except BaseException:
            client.close()
            raise
    return client


def send_email(
    settings: SmtpSettings,
    *,
    recipient: str,
    subject: str,
    text: str,
    html: str = "",
    ssl_context: ssl.SSLContext | None = None,
) -> str:
    """Send one e-mail and return its Message-ID; :class:`DeliveryError` if not."""
    if not settings.host:
        raise DeliveryError("e-mail is not set up (smtp.host is empty)")
    if settings.security not in SECURITY_MODES:
        raise DeliveryError(
            f"smtp.security must be one of {', '.join(SECURITY_MODES)}, "
            f"not {settings.security!r}"
        )
    message = build_email(
        settings, recipient=recipient, subject=subject, text=text, html=html
    )
    context = ssl_context or ssl.create_default_context()
    try:
        with _connect(settings, context) as client:
            if settings.username:
                client.login(settings.username, settings.password)
            client.send_message(message)
    except smtplib.SMTPAuthenticationError as error:
        raise DeliveryError(
            f"the SMTP server refused the login of {settings.username!r} "
            f"({error.smtp_code})"
        ) from None
    except smtplib.SMTPRecipientsRefused:
        raise DeliveryError(
            f"the SMTP server refused the recipient {recipient}"
        ) from None
    except (smtplib.SMTPException, OSError) as error:
        reason = str(error) or type(error).__name__
        raise DeliveryError(
            f"e-mail to {recipient} via {settings.host}:{settings.port} failed: "
            f"{reason}"
        ) from None
    return str(message["Message-ID"])
