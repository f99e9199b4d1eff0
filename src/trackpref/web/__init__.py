"""Adapters that honor the preference in web apps (ASGI, WSGI) over one core."""

from __future__ import annotations

from .asgi import SCOPE_KEY, PreferenceMiddleware
from .consent import ConsentStore, MemoryConsentStore, SQLiteConsentStore
from .honoring import Honoring, Outcome, PlainResponse
from .wsgi import ENVIRON_DECISION, WSGIPreferenceMiddleware

__all__ = [
    "ENVIRON_DECISION",
    "SCOPE_KEY",
    "ConsentStore",
    "Honoring",
    "MemoryConsentStore",
    "Outcome",
    "PlainResponse",
    "PreferenceMiddleware",
    "SQLiteConsentStore",
    "WSGIPreferenceMiddleware",
]
