"""The admin side: login, the dashboard, ``/api/stats`` and ``/metrics``.

Every route here refuses without the admin token (``Authorization: Bearer``)
or a session obtained by logging in with it. HTML goes through Jinja2 with
autoescaping, so a collected value (a path, a referrer domain, an event
name) is always shown as text, whatever it contains.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from .._untrusted import whole_number
from ..signals.errors import SignalError
from .auth import Session
from .charts import SIGNAL_COLORS, SIGNAL_LABELS, dashboard_charts
from .events import check_site
from .forms import FormError, read_form
from .metrics import CONTENT_TYPE
from .stats import MAX_DAYS, site_stats
from .templating import render

if TYPE_CHECKING:
    from .runtime import Service

__all__ = ["Dashboard"]

_NO_STORE = {"cache-control": "no-store"}


def _error(status: int, message: str, field: str | None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status, headers=_NO_STORE)


class Dashboard:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.auth = service.auth

    # -- helpers ---------------------------------------------------------------
    def _params(self, request: Request) -> tuple[str | None, int]:
        q = request.query_params
        days = whole_number(q.get("days", "30"), max_digits=3)
        if days is None or not 1 <= days <= MAX_DAYS:
            raise SignalError(f"days: a whole number from 1 to {MAX_DAYS}", field="days")
        site = q.get("site")
        if site:
            site = check_site(site)
        return site, days

    def _sites(self) -> list[str]:
        return self.service.collector.known_sites()

    async def _stats(self, site: str, days: int) -> dict[str, Any]:
        svc = self.service
        store = svc.collector.store_for(site)
        return await run_in_threadpool(
            site_stats,
            svc.tables,
            store,
            svc.inventory,
            days=days,
            jobs=tuple(svc.config.jobs),
            cache=svc.tally_cache,
        )

    # -- login -------------------------------------------------------------------
    async def login_page(self, request: Request) -> Response:
        """``/admin/login``: one route for both methods, so that a 405 names both."""
        if request.method == "POST":
            return await self.login(request)
        return await self.login_form(request)

    async def login_form(self, request: Request) -> Response:
        nonce, cookie = self.auth.portal_nonce(request)
        html = render(
            "login.html",
            csrf=self.auth.portal_csrf(nonce),
            error=None,
            next=_safe_next(request.query_params.get("next")),
        )
        response = HTMLResponse(html, headers=_NO_STORE)
        if cookie:
            response.headers.append("set-cookie", cookie)
        return response

    async def login(self, request: Request) -> Response:
        try:
            form = await read_form(request, limit=4096)
        except FormError as exc:
            return _error(400, str(exc), "form")
        token = str(form.get("token", ""))
        csrf = str(form.get("csrf", ""))
        nxt = _safe_next(str(form.get("next", "")))
        nonce, cookie = self.auth.portal_nonce(request)

        def again(status: int, error: str) -> Response:
            html = render("login.html", csrf=self.auth.portal_csrf(nonce), error=error, next=nxt)
            r = HTMLResponse(html, status_code=status, headers=_NO_STORE)
            if cookie:
                r.headers.append("set-cookie", cookie)
            return r

        if not self.auth.check_portal_csrf(request, csrf):
            return again(403, "The form expired; please try again.")
        if self.auth.throttled():
            return again(429, "Too many failed attempts; wait a minute.")
        if not self.auth.check_token(token.strip()):
            self.auth.failed()
            await asyncio.sleep(0.2)
            return again(401, "That is not the admin token.")
        await run_in_threadpool(self.auth.refresh, force=True)  # the newest generation
        value, _ = self.auth.new_session()
        response = RedirectResponse(nxt, status_code=303, headers=_NO_STORE)
        response.headers.append("set-cookie", self.auth.session_cookie(value))
        return response

    async def logout(self, request: Request) -> Response:
        await self._refresh()
        session = self.auth.session(request.cookies.get("tp_admin"))
        try:
            form = await read_form(request, limit=1024)
        except FormError as exc:
            return _error(400, str(exc), "form")
        if session is None or not self.auth.check_admin_csrf(session, str(form.get("csrf", ""))):
            return _error(403, "csrf: missing or wrong token", "csrf")
        await run_in_threadpool(self.auth.end_sessions)
        response = RedirectResponse("/admin/login", status_code=303, headers=_NO_STORE)
        response.headers.append("set-cookie", self.auth.clear_session_cookie())
        return response

    # -- the dashboard -------------------------------------------------------------
    async def _refresh(self) -> None:
        """The session generation, re-read off the event loop when due (a logout elsewhere)."""
        if self.auth.generation_stale():
            await run_in_threadpool(self.auth.refresh)

    async def _authorized(self, request: Request) -> Session | bool:
        await self._refresh()
        return self.auth.authorized(request)

    async def page(self, request: Request) -> Response:
        who = await self._authorized(request)
        if who is False:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(
                "/admin/login?next=" + quote(target, safe=""), status_code=303, headers=_NO_STORE
            )
        try:
            site, days = self._params(request)
        except SignalError as exc:
            return HTMLResponse(
                render("error.html", status=400, message=exc.message), status_code=400
            )
        sites = self._sites()
        if site is None:
            site = sites[0] if sites else None
        elif site not in sites:
            message = f"site: no data for {site}"
            return HTMLResponse(render("error.html", status=404, message=message), status_code=404)
        stats = await self._stats(site, days) if site else None
        charts = dashboard_charts(stats) if stats else None
        csrf = self.auth.admin_csrf(who) if isinstance(who, Session) else None
        html = render(
            "dashboard.html",
            site=site,
            sites=sites,
            days=days,
            stats=stats,
            charts=charts,
            csrf=csrf,
            signal_labels=SIGNAL_LABELS,
            signal_colors=SIGNAL_COLORS,
            generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
        return HTMLResponse(html, headers=_NO_STORE)

    async def api_stats(self, request: Request) -> Response:
        if await self._authorized(request) is False:
            return _error(401, "admin token required (Authorization: Bearer ...)", "authorization")
        try:
            site, days = self._params(request)
        except SignalError as exc:
            return _error(400, exc.message, exc.field)
        if site is None:
            return JSONResponse({"sites": self._sites()}, headers=_NO_STORE)
        if site not in self._sites():
            return _error(404, f"site: no data for {site}", "site")
        return JSONResponse(await self._stats(site, days), headers=_NO_STORE)

    async def metrics(self, request: Request) -> Response:
        if await self._authorized(request) is False:
            return _error(401, "admin token required (Authorization: Bearer ...)", "authorization")
        return Response(self.service.metrics.render(), media_type=CONTENT_TYPE, headers=_NO_STORE)


def _safe_next(value: str | None) -> str:
    """Only a local path: the login form must not become an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value[:500]
    return "/dashboard"
