"""The Starlette application behind ``trackpref serve``.

It started as the first site built on the middleware (the landing page and
``/api/preference`` only read the decision the middleware attached; every
declaration comes from it) and is now the collection service as well:

* collection: ``/trackpref.js``, ``POST /api/collect``, ``/p.gif``, e-mail
  opens at ``/o/{campaign}/{token}.gif`` (:mod:`.collect`, :mod:`.ingest`);
* the dashboard, ``/api/stats`` and ``/metrics``, admin only (:mod:`.dashboard`);
* the public rights portal under ``/rights`` (:mod:`.portal`);
* ``/openapi.json``, structured logs, scheduled jobs (:mod:`.jobs`);
* with ``demo``, a publisher site under ``/demo/`` (:mod:`.demo`).

The service's own declarations (``Tk`` on every response, its TSR and
``gpc.json``) come from :class:`PreferenceMiddleware` and a :class:`SitePolicy`,
as for any site.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..integrations.starlette import decision
from ..signals.decisions import Purpose, decide
from ..signals.preference import PreferenceState
from ..signals.site_policy import SitePolicy
from ..web.asgi import PreferenceMiddleware
from ..web.consent import ConsentStore
from ..web.honoring import Honoring
from .asgi_io import ASGIApp, Receive, Scope, Send
from .collect import CollectEndpoint, OpenPixel, PagePixel, ScriptEndpoint
from .config import ServiceConfig
from .dashboard import Dashboard
from .demo import demo_routes
from .logs import RequestLog
from .openapi import openapi_document
from .portal import Portal
from .runtime import Service, default_policy
from .templating import render

__all__ = ["create_app", "default_policy"]

_KEPT_TEXT = {
    "with-id": (
        "Kept as a raw event with this browser's pseudonymous id, because you allow tracking. "
        "You can see, correct and delete it in the rights portal."
    ),
    "raw": (
        "Kept as a raw event without any id: only today's salted visitor hash, which nobody "
        "can link to you once the day's salt is destroyed."
    ),
    "counted-only": (
        "Not kept: your page view only added one to today's counts. No identifier, no raw event."
    ),
}


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
    html = render(
        "landing.html",
        decision=d,
        pref=d.preference,
        will=will,
        wont=wont,
        prefix=request.app.state.prefix,
        demo=request.app.state.service.config.demo,
    )
    return HTMLResponse(html, headers={"cache-control": "no-store"})


async def privacy(request: Request) -> Response:
    html = render("privacy.html", prefix=request.app.state.prefix)
    return HTMLResponse(html)


def _explain_route(service: Service) -> Route:
    async def api_explain(request: Request) -> Response:
        q = request.query_params
        dataset = q.get("dataset", "pageviews")
        if dataset not in ("pageviews", "email_opens"):
            return JSONResponse(
                {"error": "dataset: pageviews or email_opens", "field": "dataset"}, 400
            )
        dnt = q.get("dnt")
        pref = service.collector.tighten(
            decision(request).preference, dnt if dnt in ("0", "1") else None, q.get("gpc") == "true"
        )
        allow = pref.state is PreferenceState.ALLOW
        explanation = service.collector.gate.explain(dataset, pref, has_subject=allow)
        stored = not any(r.rule == "dataset" and r.outcome == "refused" for r in explanation.rules)
        kept = ("with-id" if allow else "raw") if stored else "counted-only"
        return JSONResponse(
            {
                "preference": pref.as_dict(),
                "tracking_status": decide(pref, service.collector.role).tracking_status,
                "kept": kept,
                "summary": _KEPT_TEXT[kept],
                "explanation": explanation.as_dict(),
            },
            headers={"cache-control": "no-store"},
        )

    return Route("/api/explain", api_explain)


class ServiceApp(Starlette):
    """Starlette, with the collection endpoints served on a shorter path.

    Collect requests are nearly all the traffic. They go straight to
    :class:`PreferenceMiddleware` and then to their endpoint, skipping the
    router's walk over every route and Starlette's exception and logging
    layers, which they do not need: the endpoints answer every error
    themselves, count every status in ``/metrics`` and log their errors.
    Everything else takes the usual way.

    ``fast`` maps each such path to its chain. The beacons' chain (collect and
    the page pixel) declares with ``Tk`` alone: its answers are a 202 to a
    POST or a ``no-store`` GIF, which no cache keeps (so no ``Vary``) and which
    load nothing a referrer could leak to (so no ``Referrer-Policy``). Every
    chain has the app's policy and consent store, so ``Tk``, the declarations
    and the exceptions are the same on every path.
    """

    fast: dict[str, ASGIApp]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            chain = self.fast.get(scope["path"])
            if chain is not None:
                await chain(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _route_group(path: str) -> str:
    for prefix, group in (
        ("/api/collect", "collect"),
        ("/p.gif", "pixel"),
        ("/o/", "open"),
        ("/api/", "api"),
        ("/dashboard", "dashboard"),
        ("/admin", "dashboard"),
        ("/rights", "rights"),
        ("/demo", "demo"),
        ("/.well-known", "well-known"),
        ("/metrics", "metrics"),
    ):
        if path.startswith(prefix):
            return group
    return "other"


def create_app(
    *,
    db: str | Path | None = None,
    policy: SitePolicy | str | Path | None = None,
    consent_store: ConsentStore | None = None,
    config: ServiceConfig | None = None,
) -> Starlette:
    """Build the app. ``db`` (a SQLite path or ``postgresql://`` URL) overrides ``config.db``."""
    cfg = config or ServiceConfig()
    if db is not None:
        cfg = cfg.replace(db=str(db))
    service = Service(cfg, policy=policy, consent_store=consent_store)
    collector, committer, metrics = service.collector, service.committer, service.metrics
    limits: dict[str, Any] = {
        "max_body": cfg.max_body,
        "max_events": cfg.max_events,
        "max_inflight": cfg.max_inflight,
        "log_errors": cfg.access_log,
    }
    dash = Dashboard(service)
    portal = Portal(service)
    document = openapi_document()

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def healthz(request: Request) -> Response:
        return JSONResponse(
            {"ok": True, "queued": committer.queued, "instance": cfg.instance},
            headers={"cache-control": "no-store"},
        )

    collect = CollectEndpoint(collector, committer, metrics, **limits)
    pixel = PagePixel(collector, committer, metrics, **limits)
    script = ScriptEndpoint()
    routes: list[BaseRoute] = [
        Route("/", landing),
        Route("/privacy", privacy),
        Route("/api/preference", api_preference),
        Route("/api/collect", collect, methods=["POST", "OPTIONS"]),
        Route("/p.gif", pixel, methods=["GET"]),
        Route(
            "/o/{campaign}/{token}.gif",
            OpenPixel(collector, committer, metrics, mail_site=cfg.mail_site, **limits),
            methods=["GET"],
        ),
        Route("/trackpref.js", script, methods=["GET"]),
        _explain_route(service),
        Route("/api/stats", dash.api_stats),
        Route("/metrics", dash.metrics),
        Route("/openapi.json", openapi),
        Route("/healthz", healthz),
        Route("/dashboard", dash.page),
        Route("/admin/login", dash.login_page, methods=["GET", "POST"]),
        Route("/admin/logout", dash.logout, methods=["POST"]),
        Route("/rights", portal.index),
        Route("/rights/requests", portal.open_request, methods=["POST"]),
        Route("/rights/exceptions", portal.exceptions),
        Route("/rights/exceptions/revoke", portal.revoke, methods=["POST"]),
        Route("/rights/inventory", portal.inventory),
        Route("/rights/inventory.json", portal.inventory_json),
        Route("/rights/{site}/requests/{rid}", portal.show_request),
        Route("/rights/{site}/requests/{rid}/verify", portal.verify, methods=["POST"]),
        Route("/rights/{site}/requests/{rid}/resend", portal.resend, methods=["POST"]),
        Route("/rights/{site}/requests/{rid}/export", portal.export),
        Route("/rights/{site}/requests/{rid}/correct", portal.correct, methods=["POST"]),
    ]
    if cfg.demo:
        routes.extend(demo_routes(service))

    http_requests = metrics.http_requests
    children: dict[tuple[str, int], Any] = {}

    def observe(path: str, status: int) -> None:
        group = _route_group(path)
        key = (group, status // 100)
        child = children.get(key)
        if child is None:
            child = children[key] = http_requests.labels(group, f"{status // 100}xx")
        child.inc()

    honoring = Honoring(service.policy, consent_store=service.consent_store)
    app = ServiceApp(
        routes=routes,
        middleware=[
            Middleware(RequestLog, enabled=cfg.access_log, observe=observe),
            Middleware(PreferenceMiddleware, honoring=honoring),
        ],
        lifespan=service.lifespan,
    )
    beacons = Honoring(
        service.policy, consent_store=service.consent_store, referrer_policy=None, vary=False
    )
    app.fast = {
        "/api/collect": PreferenceMiddleware(collect, honoring=beacons),
        "/p.gif": PreferenceMiddleware(pixel, honoring=beacons),
        "/trackpref.js": PreferenceMiddleware(script, honoring=honoring),
    }
    app.state.prefix = "/_trackpref"
    app.state.service = service
    return app
