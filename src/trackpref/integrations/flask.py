"""Flask: wrap ``app.wsgi_app`` and expose the decision on ``flask.g``.

::

    app = Flask(__name__)
    TrackPref(app, policy="site-policy.toml")

    @app.get("/")
    def home():
        if g.trackpref.preference.do_not_track: ...

``current_decision()`` / ``current_preference()`` read the same values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, g, request

from ..signals.decisions import Decision
from ..signals.preference import Preference
from ..signals.site_policy import SitePolicy
from ..web.consent import ConsentStore
from ..web.wsgi import ENVIRON_DECISION, WSGIPreferenceMiddleware

__all__ = ["TrackPref", "current_decision", "current_preference"]


class TrackPref:
    """The Flask extension. ``TrackPref(app)`` or ``TrackPref().init_app(app)``."""

    def __init__(
        self,
        app: Flask | None = None,
        *,
        policy: SitePolicy | str | Path | None = None,
        consent_store: ConsentStore | None = None,
        **options: Any,
    ) -> None:
        self.policy = policy
        self.consent_store = consent_store
        self.options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        policy = self.policy if self.policy is not None else app.config.get("TRACKPREF_POLICY")
        middleware = WSGIPreferenceMiddleware(
            app.wsgi_app, policy, consent_store=self.consent_store, **self.options
        )
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.extensions["trackpref"] = middleware

        @app.before_request
        def _attach() -> None:
            g.trackpref = request.environ.get(ENVIRON_DECISION)


def current_decision() -> Decision:
    found = request.environ.get(ENVIRON_DECISION)
    if not isinstance(found, Decision):
        raise RuntimeError("TrackPref is not initialised on this Flask app")
    return found


def current_preference() -> Preference:
    return current_decision().preference
