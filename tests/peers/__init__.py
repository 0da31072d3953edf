"""Real network peers (SMTP, WhatsApp Cloud API) on 127.0.0.1 for tests."""
