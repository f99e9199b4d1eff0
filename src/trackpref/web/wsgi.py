"""``WSGIPreferenceMiddleware``: the same honoring for Flask, Django and any WSGI app.

WSGI servers join repeated header fields with commas; the core reads a comma
as repeated fields (RFC 9110 §5.3), so ``DNT: 1`` twice is still refused and
``Sec-GPC`` still counts if any field is exactly ``1``.

The app finds the decision in ``environ["trackpref.decision"]``; the resolved
preference is its ``.preference``, as under ASGI.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from ..signals.parties import PartyMap
from ..signals.site_policy import SitePolicy
from .consent import CONSENT_COOKIE, ConsentStore
from .honoring import DEFAULT_PREFIX, DEFAULT_REFERRER_POLICY, Honoring, PlainResponse

__all__ = ["ENVIRON_DECISION", "WSGIPreferenceMiddleware"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

logger = logging.getLogger("trackpref")

ENVIRON_DECISION = "trackpref.decision"
_MARK = CONSENT_COOKIE + "="
_MAX_API_BODY = 16 * 1024


class WSGIPreferenceMiddleware:
    """Read DNT / Sec-GPC, decide, declare, enforce; see ``docs/middleware.md``."""

    __slots__ = (
        "_bare_settled",
        "_classified",
        "_fetch_settled",
        "_outcomes",
        "_owned",
        "app",
        "honoring",
    )

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
        self._outcomes = self.honoring.outcomes
        self._classified = self.honoring.classified
        self._fetch_settled = self.honoring.fetch_settled
        self._bare_settled = self.honoring.bare_settled

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        dnt = environ.get("HTTP_DNT")
        gpc = environ.get("HTTP_SEC_GPC")
        fetch_site = environ.get("HTTP_SEC_FETCH_SITE")
        fetch_dest = environ.get("HTTP_SEC_FETCH_DEST")
        cookie = environ.get("HTTP_COOKIE")
        honoring = self.honoring
        consent_id = None if cookie is None or _MARK not in cookie else _cookie(cookie)
        if consent_id is None and (
            ("HTTP_REFERER" not in environ and "HTTP_ORIGIN" not in environ and self._bare_settled)
            or fetch_site in self._fetch_settled
        ):
            # Fetch Metadata settles the role (Honoring.fetch_decides): one dict
            # lookup for nearly every request (see Honoring.cached_outcome).
            outcome = self._outcomes.get(
                (dnt, gpc, fetch_site, fetch_dest)
            ) or honoring.cached_outcome(dnt, gpc, fetch_site, fetch_dest)
        elif consent_id is None:
            # Origin, Referer or the party map decide: the core classifies.
            host = environ.get("HTTP_HOST")
            origin = environ.get("HTTP_ORIGIN")
            referer = environ.get("HTTP_REFERER")
            outcome = self._classified.get(
                (dnt, gpc, fetch_site, fetch_dest, host, origin, referer)
            ) or honoring.classified_outcome(
                dnt, gpc, fetch_site, fetch_dest, host, origin, referer
            )
        else:
            outcome = honoring.outcome(
                None if dnt is None else (dnt,),
                None if gpc is None else (gpc,),
                consent_id=consent_id,
                host=environ.get("HTTP_HOST", ""),
                referer=environ.get("HTTP_REFERER"),
                origin=environ.get("HTTP_ORIGIN"),
                sec_fetch_site=fetch_site,
                sec_fetch_dest=fetch_dest,
            )
        environ["trackpref.decision"] = outcome.decision  # ENVIRON_DECISION, no global lookup

        path: str = environ.get("PATH_INFO") or "/"
        if path.startswith(self._owned):
            response = self._own(path, environ, outcome, consent_id)
            if response is not None:
                return _plain(start_response, honoring.declared(response, outcome), environ)
        if outcome.refuse and honoring.refuses(outcome, path):
            return _plain(
                start_response, honoring.declared(honoring.consent_page(outcome), outcome), environ
            )

        def wrapped_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            if outcome.strip_tracking_cookies:
                raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
                rewritten = honoring.response_headers(outcome, raw)
                if rewritten is not None:
                    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in rewritten]
            for name, _ in headers:
                n = len(name)
                # Length first: it spares a lower() for nearly every header.
                if (n == 2 or n == 15) and name.lower() in ("tk", "referrer-policy"):
                    headers = headers + honoring.extra_text_headers(outcome, headers)
                    break
            else:
                headers = headers + outcome.text_headers_all
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, wrapped_start_response)
        except Exception:
            # TPE §6.3: Tk on every response, the error one included. exc_info
            # is PEP 3333's way to replace headers the app set but the server
            # has not sent (and harmless when the app set none); were they
            # sent, the server re-raises and ends the response itself.
            logger.exception("unhandled error in the app behind WSGIPreferenceMiddleware")
            error = honoring.server_error(outcome)
            return _plain(start_response, error, environ, sys.exc_info())

    def _own(
        self, path: str, environ: dict[str, Any], outcome: Any, consent_id: str | None
    ) -> PlainResponse | None:
        honoring = self.honoring
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/.well-known/"):
            if environ.get("SCRIPT_NAME"):
                return None  # mounted below the root: not at the origin's well-known location
            return honoring.static_response(method, path)
        if not honoring.policy.exceptions_api:
            return None
        if path == honoring.prefix + "/exceptions.js":
            return honoring.shim_response(outcome)
        if path == honoring.prefix + "/exceptions":
            body = _read_body(environ, _MAX_API_BODY + 1)
            return honoring.exception_call(
                method,
                body,
                content_type=environ.get("CONTENT_TYPE"),
                host=environ.get("HTTP_HOST", ""),
                origin=environ.get("HTTP_ORIGIN"),
                consent_id=consent_id,
                scheme=environ.get("wsgi.url_scheme", "http"),
            )
        return None


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == CONSENT_COOKIE:
            return value.strip().strip('"') or None
    return None


def _plain(
    start_response: StartResponse,
    response: PlainResponse,
    environ: dict[str, Any],
    exc_info: ExcInfo | tuple[None, None, None] | None = None,
) -> list[bytes]:
    status = f"{response.status} {response.reason}"
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers]
    if exc_info is None:
        start_response(status, headers)
    else:
        start_response(status, headers, exc_info)
    # HEAD gets the headers (Content-Length included) and no body.
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [response.body]


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    """At most ``limit`` bytes of the request body, with or without Content-Length."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if length >= 0:
        return bytes(stream.read(min(length, limit)))
    if environ.get("wsgi.input_terminated") or "chunked" in environ.get(
        "HTTP_TRANSFER_ENCODING", ""
    ):
        return bytes(stream.read(limit))
    return b""
