"""The Starlette application behind ``trackpref serve``.

It is the first site built on the middleware, and the proof that the
middleware is enough: the landing page and ``/api/preference`` only read the
decision the middleware attached; every declaration comes from it.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..integrations.starlette import decision
from ..signals.decisions import Purpose
from ..signals.site_policy import SitePolicy
from ..web.asgi import PreferenceMiddleware
from ..web.consent import ConsentStore, MemoryConsentStore, SQLiteConsentStore

__all__ = ["create_app", "default_policy"]

_templates = Environment(
    loader=PackageLoader("trackpref.service", "templates"),
    autoescape=select_autoescape(default=True),
)


def default_policy() -> SitePolicy:
    """The policy ``trackpref serve`` runs with when given none."""
    return SitePolicy(policy="/privacy", config="/privacy#consent")


async def api_preference(request: Request) -> Response:
    """What the server understood from this request (``DESIGN.md``)."""
    d = decision(request)
    pref = d.preference
    body = {
        "preference": pref.state.value,
        "dnt": pref.dnt.value,
        "gpc": pref.gpc.enabled,
        "exception": pref.exception,
        "tracking_status": d.tracking_status,
        "source": pref.source.value,
        "sources": [s.value for s in pref.sources],
        "conflicts": [c.explain() for c in pref.conflicts],
        "problems": [p for p in (pref.dnt.problem, pref.gpc.problem) if p],
    }
    return JSONResponse(body, headers={"cache-control": "no-store"})


def _uses(request: Request) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    d = decision(request)
    will: list[tuple[str, str]] = []
    wont: list[tuple[str, str]] = []
    for purpose in Purpose:
        verdict = d.may(purpose)
        reason = verdict.reason.split(": ", 1)[-1]
        (will if verdict.allowed else wont).append((purpose.label, reason))
    return will, wont


async def landing(request: Request) -> Response:
    d = decision(request)
    will, wont = _uses(request)
    html = _templates.get_template("landing.html").render(
        decision=d,
        pref=d.preference,
        will=will,
        wont=wont,
        prefix=request.app.state.prefix,
    )
    return HTMLResponse(html, headers={"cache-control": "no-store"})


async def privacy(request: Request) -> Response:
    html = _templates.get_template("privacy.html").render(prefix=request.app.state.prefix)
    return HTMLResponse(html)


def create_app(
    *,
    db: str | Path | None = None,
    policy: SitePolicy | str | Path | None = None,
    consent_store: ConsentStore | None = None,
) -> Starlette:
    """Build the app. ``db`` is the SQLite file for consent records."""
    if consent_store is None:
        consent_store = SQLiteConsentStore(db) if db is not None else MemoryConsentStore()
    routes = [
        Route("/", landing),
        Route("/privacy", privacy),
        Route("/api/preference", api_preference),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                PreferenceMiddleware,
                policy=policy if policy is not None else default_policy(),
                consent_store=consent_store,
            )
        ],
    )
    app.state.prefix = "/_trackpref"
    return app
