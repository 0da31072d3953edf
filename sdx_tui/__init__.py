"""SDX desk: write, approve, schedule and deliver RouterOS scripts from a terminal."""

from __future__ import annotations

__version__ = "0.1.0"
