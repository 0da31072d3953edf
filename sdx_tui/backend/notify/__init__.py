"""Notifications (e-mail and WhatsApp) sent from an outbox."""
