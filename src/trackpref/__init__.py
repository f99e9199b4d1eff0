"""trackpref: carry a person's DNT / GPC preference, make parties honor it, prove it."""

from __future__ import annotations

from .signals import (
    Decision,
    PartyRole,
    Precedence,
    Preference,
    PreferenceState,
    Purpose,
    decide,
    resolve,
    resolve_headers,
)

__version__ = "0.1.0"

__all__ = [
    "Decision",
    "PartyRole",
    "Precedence",
    "Preference",
    "PreferenceState",
    "Purpose",
    "__version__",
    "decide",
    "resolve",
    "resolve_headers",
]
