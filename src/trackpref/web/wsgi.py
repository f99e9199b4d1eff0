"""``WSGIPreferenceMiddleware``: the same honoring for Flask, Django and any WSGI app.

WSGI servers join repeated header fields with commas; the core reads a comma
as repeated fields (RFC 9110 §5.3), so ``DNT: 1`` twice is still refused and
``Sec-GPC`` still counts if any field is exactly ``1``.

The app finds the decision in ``environ["trackpref.decision"]`` (and the
preference in ``environ["trackpref.preference"]``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from ..signals.parties import PartyMap
from ..signals.site_policy import SitePolicy
from .consent import CONSENT_COOKIE, ConsentStore
from .honoring import DEFAULT_PREFIX, DEFAULT_REFERRER_POLICY, Honoring, PlainResponse

__all__ = ["ENVIRON_DECISION", "ENVIRON_PREFERENCE", "WSGIPreferenceMiddleware"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

ENVIRON_DECISION = "trackpref.decision"
ENVIRON_PREFERENCE = "trackpref.preference"
_MARK = CONSENT_COOKIE + "="
_MAX_API_BODY = 16 * 1024


class WSGIPreferenceMiddleware:
    """Read DNT / Sec-GPC, decide, declare, enforce; see ``docs/middleware.md``."""

    def __init__(
        self,
        app: WSGIApp,
        policy: SitePolicy | str | Path | None = None,
        *,
        consent_store: ConsentStore | None = None,
        referrer_policy: str | None = DEFAULT_REFERRER_POLICY,
        parties: PartyMap | None = None,
        prefix: str = DEFAULT_PREFIX,
        honoring: Honoring | None = None,
    ) -> None:
        self.app = app
        self.honoring = honoring or Honoring(
            policy,
            consent_store=consent_store,
            referrer_policy=referrer_policy,
            parties=parties,
            prefix=prefix,
        )

        self._owned = ("/.", self.honoring.prefix)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        honoring = self.honoring
        dnt = environ.get("HTTP_DNT")
        gpc = environ.get("HTTP_SEC_GPC")
        cookie = environ.get("HTTP_COOKIE")
        consent_id = _cookie(cookie) if cookie and _MARK in cookie else None
        if consent_id is None:
            # One dict lookup for nearly every request (see Honoring.cached_outcome).
            outcome = honoring.outcomes.get((dnt, gpc)) or honoring.cached_outcome(dnt, gpc)
        else:
            outcome = honoring.outcome(
                None if dnt is None else (dnt,),
                None if gpc is None else (gpc,),
                consent_id=consent_id,
                host=environ.get("HTTP_HOST", ""),
                referer=environ.get("HTTP_REFERER"),
                origin=environ.get("HTTP_ORIGIN"),
                sec_fetch_site=environ.get("HTTP_SEC_FETCH_SITE"),
            )
        decision = environ[ENVIRON_DECISION] = outcome.decision
        environ[ENVIRON_PREFERENCE] = decision.preference

        path: str = environ.get("PATH_INFO") or "/"
        if path.startswith(self._owned):
            response = self._own(path, environ, outcome, consent_id)
            if response is not None:
                return _plain(start_response, honoring.declared(response, outcome))
        if outcome.refuse and not outcome.preference.exception:
            return _plain(start_response, honoring.consent_page(outcome))

        def wrapped_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            if outcome.strip_tracking_cookies:
                raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
                rewritten = honoring.response_headers(outcome, raw)
                if rewritten is not None:
                    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in rewritten]
            for name, _ in headers:
                # The length test spares a lower() for nearly every header.
                if len(name) == 15 and name.lower() == "referrer-policy":
                    headers = headers + outcome.text_headers_no_referrer_policy
                    break
            else:
                headers = headers + outcome.text_headers_all
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        return self.app(environ, wrapped_start_response)

    def _own(
        self, path: str, environ: dict[str, Any], outcome: Any, consent_id: str | None
    ) -> PlainResponse | None:
        honoring = self.honoring
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/.well-known/"):
            return honoring.static_response(method, path)
        if not honoring.policy.exceptions_api:
            return None
        if path == honoring.prefix + "/exceptions.js":
            return honoring.shim_response(outcome)
        if path == honoring.prefix + "/exceptions":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            stream = environ.get("wsgi.input")
            body = b""
            if stream is not None and length > 0:
                body = stream.read(min(length, _MAX_API_BODY + 1))
            return honoring.exception_call(
                method,
                body,
                content_type=environ.get("CONTENT_TYPE"),
                host=environ.get("HTTP_HOST", ""),
                origin=environ.get("HTTP_ORIGIN"),
                consent_id=consent_id,
                secure=environ.get("wsgi.url_scheme") == "https",
            )
        return None


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == CONSENT_COOKIE:
            return value.strip().strip('"') or None
    return None


def _plain(start_response: StartResponse, response: PlainResponse) -> list[bytes]:
    start_response(
        f"{response.status} {response.reason}",
        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers],
    )
    return [response.body]
