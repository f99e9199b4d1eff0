"""``trackpref serve``: the honoring site (and, later, the collection service)."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
