"""Django: a middleware in Django's own style, over the same honoring core.

``settings.py``::

    MIDDLEWARE = ["trackpref.integrations.django.PreferenceMiddleware", ...]
    TRACKPREF_POLICY = BASE_DIR / "site-policy.toml"   # optional

Views read ``request.trackpref`` (the :class:`Decision`) and
``request.preference``. Put it near the top of ``MIDDLEWARE`` so that the
``Set-Cookie`` headers of every later middleware are enforced too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from ..web.consent import CONSENT_COOKIE
from ..web.honoring import Honoring, Outcome, PlainResponse

__all__ = ["PreferenceMiddleware"]

_MAX_API_BODY = 16 * 1024


class PreferenceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.honoring = Honoring(
            getattr(settings, "TRACKPREF_POLICY", None),
            consent_store=getattr(settings, "TRACKPREF_CONSENT_STORE", None),
        )
        security = "django.middleware.security.SecurityMiddleware" in settings.MIDDLEWARE
        self.project_referrer_policy: str | None = (
            getattr(settings, "SECURE_REFERRER_POLICY", None) if security else None
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        honoring = self.honoring
        meta = request.META
        dnt = meta.get("HTTP_DNT")
        gpc = meta.get("HTTP_SEC_GPC")
        consent_id = request.COOKIES.get(CONSENT_COOKIE) or None
        fetch_site = meta.get("HTTP_SEC_FETCH_SITE")
        fetch_dest = meta.get("HTTP_SEC_FETCH_DEST")
        origin = meta.get("HTTP_ORIGIN")
        referer = meta.get("HTTP_REFERER")
        if consent_id is None and honoring.fetch_decides(fetch_site, origin, referer):
            outcome = honoring.cached_outcome(dnt, gpc, fetch_site, fetch_dest)
        elif consent_id is None:
            # Origin, Referer or the party map decide the role: the core classifies.
            outcome = honoring.classified_outcome(
                dnt, gpc, fetch_site, fetch_dest, _host(request), origin, referer
            )
        else:
            outcome = honoring.outcome(
                None if dnt is None else (dnt,),
                None if gpc is None else (gpc,),
                consent_id=consent_id,
                host=_host(request),  # validated against ALLOWED_HOSTS: only when needed
                referer=referer,
                origin=origin,
                sec_fetch_site=fetch_site,
                sec_fetch_dest=fetch_dest,
            )
        request.trackpref = outcome.decision
        request.preference = outcome.decision.preference
        path = request.path_info
        if honoring.handles(path):
            own = self._own(request, path, outcome, consent_id)
            if own is not None:
                response = _django_response(honoring.declared(own, outcome))
                if request.method == "HEAD":
                    response.content = b""
                    response["Content-Length"] = str(len(own.body))
                return response
        if outcome.refuse and honoring.refuses(outcome, path):
            return _django_response(honoring.declared(honoring.consent_page(outcome), outcome))
        response = self.get_response(request)
        self._finish(response, outcome)
        return response

    def _own(
        self, request: HttpRequest, path: str, outcome: Outcome, consent_id: str | None
    ) -> PlainResponse | None:
        honoring = self.honoring
        method = request.method or "GET"
        if path.startswith("/.well-known/"):
            return honoring.static_response(method, path)
        if not honoring.policy.exceptions_api:
            return None
        if path == honoring.prefix + "/exceptions.js":
            return honoring.shim_response(outcome)
        if path == honoring.prefix + "/exceptions":
            body = request.read(_MAX_API_BODY + 1)
            return honoring.exception_call(
                method,
                body,
                content_type=request.META.get("CONTENT_TYPE"),
                host=_host(request),
                origin=request.META.get("HTTP_ORIGIN"),
                consent_id=consent_id,
                scheme=request.scheme or "http",
            )
        return None

    def _finish(self, response: HttpResponse, outcome: Outcome) -> None:
        honoring = self.honoring
        if outcome.strip_tracking_cookies:
            # The same rule as the ASGI and WSGI adapters: a tracking cookie is
            # dropped, its deletion (which do-not-track asks for) passes.
            for name, morsel in list(response.cookies.items()):
                header = morsel.OutputString().encode("latin-1", "replace")
                if honoring.response_headers(outcome, [(b"set-cookie", header)]) == []:
                    del response.cookies[name]
            raw = response.headers.get("Set-Cookie")
            if raw is not None:  # set as a header, not through set_cookie()
                header = raw.encode("latin-1", "replace")
                if honoring.response_headers(outcome, [(b"set-cookie", header)]) == []:
                    del response.headers["Set-Cookie"]
        present = [(k.lower(), v) for k, v in response.items()]
        if self.project_referrer_policy:
            # Django's SecurityMiddleware sets the project's own policy later.
            present.append(("referrer-policy", self.project_referrer_policy))
        for name, value in honoring.extra_text_headers(outcome, present):
            if name == "vary":
                patch_vary_headers(response, [v.strip() for v in value.split(",")])
            else:
                response[name] = value


def _host(request: HttpRequest) -> str:
    """The validated host (``ALLOWED_HOSTS``), or nothing."""
    try:
        return str(request.get_host())
    except DisallowedHost:
        return ""


def _django_response(plain: PlainResponse) -> HttpResponse:
    response = HttpResponse(plain.body, status=plain.status)
    for name, value in plain.headers:
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        if key == "set-cookie":
            _set_cookie_from_header(response, text)
        else:
            response[key] = text
    return response


def _set_cookie_from_header(response: HttpResponse, header: str) -> None:
    first, *attrs = [p.strip() for p in header.split(";")]
    name, _, value = first.partition("=")
    options: dict[str, Any] = {"httponly": False, "samesite": None}
    for attr in attrs:
        key, _, val = attr.partition("=")
        k = key.lower()
        if k == "max-age":
            options["max_age"] = int(val)
        elif k == "path":
            options["path"] = val
        elif k == "httponly":
            options["httponly"] = True
        elif k == "secure":
            options["secure"] = True
        elif k == "samesite":
            options["samesite"] = val
    response.set_cookie(name, value, **options)
