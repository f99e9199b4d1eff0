"""``PreferenceMiddleware``: pure ASGI, so it costs about a microsecond.

Starlette's ``BaseHTTPMiddleware`` would cost ~100 µs a request and break
context variables; this wraps ``send`` instead and edits only the
``http.response.start`` message. Per-request state lives in closures, never on
the instance.

What the app sees: ``scope["trackpref"]`` is the :class:`~trackpref.Decision`
(its ``.preference`` is the resolved :class:`~trackpref.Preference`).
Starlette users read it with :func:`trackpref.integrations.starlette.decision`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from ..signals.parties import PartyMap
from ..signals.site_policy import SitePolicy
from .consent import CONSENT_COOKIE, ConsentStore
from .honoring import DEFAULT_PREFIX, DEFAULT_REFERRER_POLICY, Honoring, Outcome, PlainResponse

__all__ = ["SCOPE_KEY", "PreferenceMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_KEY = "trackpref"
_COOKIE_MARK = CONSENT_COOKIE.encode() + b"="
#: The request headers the first pass reads. ``Origin``, ``Referer`` and ``Host``
#: are not among them: every current browser sends ``Sec-Fetch-Site``, which then
#: settles the party role alone, and only the rarer requests without it (or with a
#: party map, or a consent cookie) are scanned again for them.
_WANTED = frozenset((b"dnt", b"sec-gpc", b"cookie", b"sec-fetch-site", b"sec-fetch-dest"))
#: Response headers an app may have chosen itself (``Tk: U``, its own referrer policy).
#: ASGI requires lower-case names; every spelling of ``Tk`` and the usual ones
#: of careless apps for the referrer policy are listed too, so one set lookup
#: per header is the whole check.
_APP_CHOSEN = frozenset(
    (
        b"tk",
        b"Tk",
        b"TK",
        b"tK",
        b"referrer-policy",
        b"Referrer-Policy",
        b"Referrer-policy",
        b"REFERRER-POLICY",
    )
)
_MAX_API_BODY = 16 * 1024


class PreferenceMiddleware:
    """Read DNT / Sec-GPC, decide, declare, enforce; see ``docs/middleware.md``.

    ``PreferenceMiddleware(app)`` works with defaults: a dynamic tracking status
    (``Tk`` per request), ``gpc.json`` saying the site honors GPC, the
    exception-API shim, and an in-memory consent store. Pass ``policy`` (a
    :class:`SitePolicy` or a TOML path) and ``consent_store`` for production.
    """

    def __init__(
        self,
        app: ASGIApp,
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dnt: bytes | tuple[bytes, ...] | None = None
        gpc: bytes | tuple[bytes, ...] | None = None
        fetch_site: bytes | None = None
        fetch_dest: bytes | None = None
        cookie: bytes | None = None
        for name, value in scope["headers"]:
            # One set lookup rejects the headers that do not matter.
            if name not in _WANTED:
                continue
            if name == b"sec-fetch-site":
                fetch_site = value
            elif name == b"sec-fetch-dest":
                fetch_dest = value
            elif name == b"dnt":
                dnt = value if dnt is None else (*_many(dnt), value)
            elif name == b"sec-gpc":
                gpc = value if gpc is None else (*_many(gpc), value)
            elif _COOKIE_MARK in value:
                cookie = value
        consent_id = None if cookie is None else _cookie(cookie.decode("latin-1"))
        if consent_id is None and fetch_site in self._fetch_settled:
            # Fetch Metadata settles the role (Honoring.fetch_decides): one dict
            # lookup for nearly every request (see Honoring.cached_outcome).
            outcome = self._outcomes.get(
                (dnt, gpc, fetch_site, fetch_dest)
            ) or self.honoring.cached_outcome(dnt, gpc, fetch_site, fetch_dest)
        else:
            host, origin, referer = _initiator(scope)
            if consent_id is not None:
                outcome = self._with_consent(
                    dnt, gpc, consent_id, fetch_site, fetch_dest, host, origin, referer
                )
            elif origin is None and referer is None and self._bare_settled:
                outcome = self._outcomes.get(
                    (dnt, gpc, fetch_site, fetch_dest)
                ) or self.honoring.cached_outcome(dnt, gpc, fetch_site, fetch_dest)
            else:
                # Origin, Referer or the party map decide: the core classifies.
                outcome = self._classified.get(
                    (dnt, gpc, fetch_site, fetch_dest, host, origin, referer)
                ) or self.honoring.classified_outcome(
                    dnt, gpc, fetch_site, fetch_dest, host, origin, referer
                )
        scope["trackpref"] = outcome.decision  # SCOPE_KEY, spelled out: no global lookup

        path: str = scope["path"]
        if path.startswith(self._owned) and await self._own(
            path, scope, receive, send, outcome, consent_id
        ):
            return
        if outcome.refuse and self.honoring.refuses(outcome, path):
            honoring = self.honoring
            await _send_plain(send, honoring.declared(honoring.consent_page(outcome), outcome))
            return

        started = False

        # A plain function that returns send()'s awaitable: no coroutine frame of
        # its own, which halves what wrapping send costs.
        def send_wrapper(message: Message) -> Awaitable[None]:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = message.get("headers") or ()
                if outcome.strip_tracking_cookies:
                    kept = self.honoring.response_headers(outcome, headers)
                    if kept is not None:  # an empty list too: the cookie was all there was
                        headers = kept
                # A new list: the app may reuse its own (a cached Response), and
                # what one person's request adds must never reach the next one.
                for name, _ in headers:
                    if name in _APP_CHOSEN:
                        extra = self.honoring.extra_headers(outcome, headers)
                        message["headers"] = [*headers, *extra]
                        break
                else:
                    message["headers"] = [*headers, *outcome.headers_all]
            return send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            # TPE §6.3: Tk on every response, the error one included.
            if not started:
                await _send_plain(send, self.honoring.server_error(outcome))
            raise

    def _with_consent(
        self,
        dnt: bytes | tuple[bytes, ...] | None,
        gpc: bytes | tuple[bytes, ...] | None,
        consent_id: str,
        fetch_site: bytes | None,
        fetch_dest: bytes | None,
        host: bytes | None,
        origin: bytes | None,
        referer: bytes | None,
    ) -> Outcome:
        """The slow path: a consent cookie means the store may hold an exception.

        It gets the very header values the other paths read, so the consent
        cookie cannot change the request's party role.
        """
        return self.honoring.outcome(
            _decoded(dnt),
            _decoded(gpc),
            consent_id=consent_id,
            host=_str(host) or "",
            referer=_str(referer),
            origin=_str(origin),
            sec_fetch_site=_str(fetch_site),
            sec_fetch_dest=_str(fetch_dest),
        )

    async def _own(
        self,
        path: str,
        scope: Scope,
        receive: Receive,
        send: Send,
        outcome: Outcome,
        consent_id: str | None,
    ) -> bool:
        """Answer the resources the middleware owns; False lets the app answer."""
        honoring = self.honoring
        method: str = scope["method"]
        if path.startswith("/.well-known/"):
            response = honoring.static_response(method, path)
            if response is None:
                return False
            await _send_plain(send, honoring.declared(response, outcome))
            return True
        if path == honoring.prefix + "/exceptions.js" and honoring.policy.exceptions_api:
            await _send_plain(send, honoring.declared(honoring.shim_response(outcome), outcome))
            return True
        if path == honoring.prefix + "/exceptions" and honoring.policy.exceptions_api:
            body = await _read_body(receive, _MAX_API_BODY + 1)
            if body is None:
                return True  # the client went away; nothing to answer, nothing stored
            h = _headers(scope)
            # The consent store may block (SQLite, PostgreSQL): keep it off the loop.
            response = await anyio.to_thread.run_sync(
                functools.partial(
                    honoring.exception_call,
                    method,
                    body,
                    content_type=h.get("content-type"),
                    host=h.get("host", ""),
                    origin=h.get("origin"),
                    consent_id=consent_id,
                    scheme=scope.get("scheme", "http"),
                )
            )
            await _send_plain(send, honoring.declared(response, outcome))
            return True
        return False


def _many(value: bytes | tuple[bytes, ...]) -> tuple[bytes, ...]:
    return value if isinstance(value, tuple) else (value,)


def _initiator(scope: Scope) -> tuple[bytes | None, bytes | None, bytes | None]:
    """(``Host``, ``Origin``, ``Referer``) for the paths Fetch Metadata cannot settle.

    ``Host`` is the first (as servers use it); ``Origin`` and ``Referer`` the
    last, as one assignment per header leaves them.
    """
    host: bytes | None = None
    origin: bytes | None = None
    referer: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"origin":
            origin = value
        elif name == b"referer":
            referer = value
        elif name == b"host" and host is None:
            host = value
    return host, origin, referer


def _str(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _decoded(value: bytes | tuple[bytes, ...] | None) -> list[str] | None:
    return None if value is None else [v.decode("latin-1") for v in _many(value)]


def _headers(scope: Scope) -> dict[str, str]:
    """The slow path's view of the headers (first value wins)."""
    out: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1")
        if key not in out:
            out[key] = value.decode("latin-1")
    return out


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == CONSENT_COOKIE:
            return value.strip().strip('"') or None
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """Read at most ``limit`` bytes (the caller refuses anything that long);
    ``None`` when the client disconnected before the body was complete."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
        if size > limit:
            break
    return b"".join(chunks) if size <= limit else b"x" * limit


async def _send_plain(send: Send, response: PlainResponse) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": list(response.headers),
        }
    )
    await send({"type": "http.response.body", "body": response.body})
