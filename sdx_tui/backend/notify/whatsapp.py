"""WhatsApp text messages through the WhatsApp Business Cloud API.

One ``POST {base_url}/{phone_number_id}/messages`` with the access token as a
bearer token and a ``text`` message as JSON. The Cloud API only delivers free
text inside a customer-service window; outside it Meta answers with an error,
which we report like any other failure.
"""

from __future__ import annotations

from typing import Any

import httpx

from sdx_tui.backend.notify.errors import DeliveryError
from sdx_tui.config import WhatsAppSettings

MAX_TEXT = 4096
"""The Cloud API's limit on a text message body."""


def message_payload(recipient: str, text: str) -> dict[str, Any]:
    """The JSON body of a text message to ``recipient`` (digits, optional +)."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": recipient.replace(" ", "").lstrip("+"),
        "type": "text",
        "text": {"preview_url": False, "body": text[:MAX_TEXT]},
    }


def _api_error(response: httpx.Response) -> str:
    try:
        detail = response.json().get("error", {}).get("message", "")
    except (ValueError, AttributeError):
        detail = ""
    return str(detail)[:300] or response.reason_phrase


def send_whatsapp(
    settings: WhatsAppSettings,
    *,
    recipient: str,
    text: str,
    client: httpx.Client | None = None,
) -> str:
    """Send one text message and return the API's message id."""
    if not settings.phone_number_id or not settings.access_token:
        raise DeliveryError(
            "WhatsApp is not set up (whatsapp.phone_number_id or access_token is empty)"
        )
    url = f"{settings.base_url.rstrip('/')}/{settings.phone_number_id}/messages"
    headers = {"Authorization": f"Bearer {settings.access_token}"}
    payload = message_payload(recipient, text)
    try:
        if client is None:
            with httpx.Client(timeout=settings.timeout) as own:
                response = own.post(url, json=payload, headers=headers)
        else:
            response = client.post(url, json=payload, headers=headers)
    except httpx.HTTPError as error:
        reason = str(error) or type(error).__name__
        raise DeliveryError(f"WhatsApp to {recipient} failed: {reason}") from None

    if response.status_code >= 300:
        detail = _api_error(response).replace(settings.access_token, "[token]")
        raise DeliveryError(
            f"WhatsApp to {recipient} failed: the API answered "
            f"{response.status_code} ({detail})"
        )
    try:
        return str(response.json()["messages"][0]["id"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""
