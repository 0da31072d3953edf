"""The error every channel raises when a message could not be delivered."""

from __future__ import annotations

from sdx_tui.backend.errors import DeskError


class DeliveryError(DeskError):
    """A message was not delivered; the text is safe to log and to show."""

    exit_code = 1
