"""Starlette and FastAPI: read the decision the ASGI middleware attached.

Add the middleware as usual::

    app = Starlette(routes=..., middleware=[Middleware(PreferenceMiddleware)])
    # or: app.add_middleware(PreferenceMiddleware, policy="site-policy.toml")

then read it in an endpoint, or as a FastAPI dependency::

    @app.get("/")
    def home(pref: Preference = Depends(preference)): ...

Both functions take a Starlette ``Request`` (FastAPI's is the same class).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from ..signals.decisions import Decision
from ..signals.preference import Preference
from ..web.asgi import SCOPE_KEY

__all__ = ["decision", "preference"]


def decision(request: HTTPConnection) -> Decision:
    """The :class:`Decision` for this request.

    Raises ``RuntimeError`` when the middleware is missing, because silently
    answering "unset" would make an app track people who asked it not to.
    """
    found = request.scope.get(SCOPE_KEY)
    if not isinstance(found, Decision):
        raise RuntimeError(
            "trackpref.PreferenceMiddleware is not installed on this app; "
            "add it with app.add_middleware(PreferenceMiddleware)"
        )
    return found


def preference(request: HTTPConnection) -> Preference:
    """The resolved :class:`Preference` for this request."""
    return decision(request).preference
