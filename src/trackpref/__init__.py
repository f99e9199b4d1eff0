"""trackpref: carry a person's DNT / GPC preference, make parties honor it, prove it.

The public API is small: the middleware, the preference and the decision.
Everything else lives in subpackages (``trackpref.signals`` for the pure core,
``trackpref.ledger``, ``trackpref.audit``, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .web.asgi import PreferenceMiddleware
    from .web.wsgi import WSGIPreferenceMiddleware

__version__ = "0.1.0"

__all__ = [
    "Decision",
    "PartyRole",
    "Precedence",
    "Preference",
    "PreferenceMiddleware",
    "PreferenceState",
    "Purpose",
    "WSGIPreferenceMiddleware",
    "__version__",
    "decide",
    "resolve",
    "resolve_headers",
]

_LAZY = {
    "PreferenceMiddleware": "trackpref.web.asgi",
    "WSGIPreferenceMiddleware": "trackpref.web.wsgi",
}


def __getattr__(name: str) -> Any:
    # The adapters load on first use, so importing the pure core stays cheap.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trackpref' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
