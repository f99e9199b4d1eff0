"""The collection endpoints: ``POST /api/collect``, the pixels and ``/trackpref.js``.

They are pure ASGI callables mounted under the preference middleware, so
every answer carries ``Tk`` and the request's :class:`Decision` is in the
scope. What each answer means:

* ``202`` with no body: every event of the request is committed (group
  commit, see :mod:`.ingest`). A request is stored whole or not at all, so a
  count would only repeat the request's own length; and an empty answer is
  one write to the socket instead of two (uvicorn sends the head and the body
  separately), which measured 7 µs of the server's CPU per single-event
  request, about a tenth of it (docs/service.md). The pixels answer ``200``
  with a GIF, also after the commit;
* ``400``: malformed; the JSON error names the field (``events[2].url``) and
  nothing of the request is stored;
* ``413``: the body (or the array) is larger than accepted;
* ``503`` with ``Retry-After``: the write queue is full, or the commit failed;
  nothing of the request is stored, sending it again is safe.
"""

from __future__ import annotations

import asyncio
import logging
import re
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from ..signals.decisions import Decision
from ..web.asgi import SCOPE_KEY
from .asgi_io import (
    Receive,
    Scope,
    Send,
    TooLarge,
    client_ip,
    header_map,
    read_body,
    send_bytes,
    send_json,
)
from .events import (
    CollectError,
    IncomingEvent,
    check_campaign,
    check_referrer,
    check_site,
    check_type,
    parse_events,
    path_of,
)
from .ingest import GroupCommitter, Overloaded, Prepared

if TYPE_CHECKING:
    from .collector import Collector
    from .metrics import ServiceMetrics

__all__ = ["GIF", "CollectEndpoint", "OpenPixel", "PagePixel", "ScriptEndpoint"]

#: The smallest transparent GIF (43 bytes).
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
_WANTED = frozenset(
    (b"user-agent", b"accept-language", b"content-length", b"referer", b"content-type")
)
_CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", b"content-type"),
    (b"access-control-max-age", b"86400"),
]
#: sendBeacon sends text/plain; curl -d sends a form type. The body must be JSON either way.
_ACCEPTED_CT = (b"application/json", b"text/plain", b"application/x-www-form-urlencoded")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,128}\Z")
_RETRY = [(b"retry-after", b"1")]
_access = logging.getLogger("trackpref.access")
#: The answer to every stored request: ``202``, no body. No cache-control: no
#: cache keeps an answer to a POST without being told to.
_STORED = object()
_STORED_START = {
    "type": "http.response.start",
    "status": 202,
    "headers": ((b"content-length", b"0"), _CORS[0]),
}
_STORED_BODY = {"type": "http.response.body", "body": b""}


def _decision(scope: Scope) -> Decision:
    found = scope.get(SCOPE_KEY)
    if not isinstance(found, Decision):
        raise RuntimeError("the collect endpoints must run under PreferenceMiddleware")
    return found


class _Base:
    endpoint = "collect"

    def __init__(
        self,
        collector: Collector,
        committer: GroupCommitter,
        metrics: ServiceMetrics,
        *,
        max_body: int = 256 * 1024,
        max_events: int = 500,
        max_inflight: int = 4096,
        log_errors: bool = True,
    ) -> None:
        self.log_errors = log_errors
        self.collector = collector
        self.committer = committer
        self.metrics = metrics
        self.max_body = max_body
        self.max_events = max_events
        self.max_inflight = max_inflight
        self.inflight = 0
        self._status = {
            s: metrics.collect_requests.labels(self.endpoint, str(s))
            for s in (200, 202, 204, 400, 405, 413, 415, 503)
        }
        self._kept = {k: metrics.events.labels(k) for k in ("raw", "with-id", "counted-only")}

    def count(self, status: int, scope: Scope | None = None) -> None:
        child = self._status.get(status)
        if child is not None:
            child.inc()
        if status >= 400 and scope is not None and self.log_errors:
            # Successes are only counted; errors get a request line (no address,
            # no User-Agent, no query string), like every other route's.
            _access.info(
                "request",
                extra={"method": scope["method"], "path": scope["path"], "status": status, "ms": 0},
            )

    async def write(self, prepared: Prepared) -> int:
        """Queue and wait for the commit; the status to answer (202 or 503)."""
        try:
            fut = self.committer.submit(prepared)
        except Overloaded:
            return 503
        try:
            await fut
        except asyncio.CancelledError:
            raise  # the client went away; the writer skips a cancelled future
        except Exception:  # the batch's commit failed: nothing of it was stored
            return 503
        for kept, n in prepared.kept.items():
            self._kept[kept].inc(n)
        return 202


class CollectEndpoint(_Base):
    """``POST /api/collect``: one event or an array, JSON (or text/plain from sendBeacon)."""

    endpoint = "collect"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            self.count(204, scope)
            await send_bytes(send, 204, b"", b"text/plain", _CORS)
            return
        if method != "POST":
            self.count(405, scope)
            await send_json(
                send, 405, {"error": "use POST", "field": "method"}, [(b"allow", b"POST")]
            )
            return
        h = header_map(scope, _WANTED)
        ctype = h.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
        if ctype not in _ACCEPTED_CT:
            self.count(415, scope)
            await send_json(
                send,
                415,
                {"error": "send application/json (or text/plain)", "field": "content-type"},
                _CORS[:1],
            )
            return
        if self.inflight >= self.max_inflight:
            self.count(503, scope)
            await send_json(send, 503, {"error": "busy", "field": None}, _RETRY + _CORS[:1])
            return
        self.inflight += 1
        try:
            status, body = await self._handle(scope, receive, h)
        finally:
            self.inflight -= 1
        self.count(status, scope)
        if body is _STORED:
            # Copies: a server or middleware may add to the messages it is given.
            await send(dict(_STORED_START))
            await send(dict(_STORED_BODY))
            return
        extra = _RETRY + _CORS[:1] if status == 503 else _CORS[:1]
        await send_json(send, status, body, extra)

    async def _handle(
        self, scope: Scope, receive: Receive, h: dict[bytes, bytes]
    ) -> tuple[int, object]:
        try:
            raw = await read_body(receive, self.max_body, h.get(b"content-length"))
        except TooLarge:
            return 413, {"error": f"body: larger than {self.max_body} bytes", "field": "body"}
        try:
            events = parse_events(raw, max_events=self.max_events)
            prepared = self.collector.prepare_events(
                events,
                _decision(scope).preference,
                user_agent=h.get(b"user-agent", b"").decode("latin-1"),
                accept_language=_text(h.get(b"accept-language")),
                ip=client_ip(scope),
                array=raw.lstrip()[:1] == b"[",
            )
        except CollectError as exc:
            return exc.status, exc.as_dict()
        status = await self.write(prepared)
        if status == 503:
            return 503, {"error": "overloaded; retry later", "field": None}
        return 202, _STORED


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _query(scope: Scope) -> dict[str, str]:
    qs: bytes = scope.get("query_string", b"")
    if len(qs) > 8192:
        raise CollectError("query: longer than 8192 bytes", field="query", status=413)
    try:
        # Raw bytes beyond ASCII are not a URL's; read as UTF-8, anything else
        # becomes U+FFFD and fails the checks by name.
        fields = parse_qs(qs.decode("utf-8", "replace"), max_num_fields=16)
    except ValueError:  # parse_qs: more than max_num_fields
        raise CollectError("query: more than 16 fields", field="query") from None
    return {k: v[0] for k, v in fields.items()}


class PagePixel(_Base):
    """``GET /p.gif?site=...&url=...``: a page view without JavaScript."""

    endpoint = "pixel"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            self.count(405, scope)
            await send_json(
                send, 405, {"error": "use GET", "field": "method"}, [(b"allow", b"GET")]
            )
            return
        h = header_map(scope, _WANTED)
        try:
            q = _query(scope)
            site = check_site(q.get("site"))
            kind = check_type(q.get("type", "pageview"))
            url = q.get("url")
            if url:
                path, host = path_of(url)
            else:  # the page that loaded the pixel, from the Referer header
                path, host = path_of(_text(h.get(b"referer")) or "/", "referer")
            ref_host = check_referrer(q.get("ref"), "ref")
            event = IncomingEvent(site, kind, path, host, ref_host, None, None, None, False)
            prepared = self.collector.prepare_events(
                [event],
                _decision(scope).preference,
                user_agent=h.get(b"user-agent", b"").decode("latin-1"),
                accept_language=_text(h.get(b"accept-language")),
                ip=client_ip(scope),
                array=False,
            )
        except CollectError as exc:
            self.count(exc.status, scope)
            await send_json(send, exc.status, exc.as_dict())
            return
        status = await self.write(prepared)
        self.count(200 if status == 202 else status, scope)
        if status == 202:
            await send_bytes(send, 200, GIF, b"image/gif")
        else:
            await send_json(send, 503, {"error": "overloaded; retry later", "field": None}, _RETRY)


class OpenPixel(_Base):
    """``GET /o/{campaign}/{token}.gif``: an e-mail open, honoring the mail client's DNT."""

    endpoint = "open"

    def __init__(self, *args: object, mail_site: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.mail_site = mail_site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = scope.get("path_params", {})
        campaign = str(params.get("campaign", ""))
        token = str(params.get("token", ""))
        h = header_map(scope, _WANTED)
        try:
            check_campaign(campaign)
            if not _TOKEN.match(token):
                raise CollectError("token: 8 to 128 letters, digits, '-' or '_'", field="token")
            q = _query(scope)
            site = check_site(q["s"], "s") if "s" in q else self.mail_site
            site = self.collector.admit_site(site, "s")
            prepared = self.collector.prepare_open(
                site,
                campaign,
                token,
                _decision(scope).preference,
                user_agent=h.get(b"user-agent", b"").decode("latin-1"),
            )
        except CollectError as exc:
            self.count(exc.status, scope)
            await send_json(send, exc.status, exc.as_dict())
            return
        status = await self.write(prepared)
        self.count(200 if status == 202 else status, scope)
        if status == 202:
            await send_bytes(send, 200, GIF, b"image/gif")
        else:
            await send_json(send, 503, {"error": "overloaded; retry later", "field": None}, _RETRY)


class ScriptEndpoint:
    """``GET /trackpref.js``: the measurement script, served from package data."""

    def __init__(self) -> None:
        self.body = (
            resources.files("trackpref.service").joinpath("static/trackpref.js").read_bytes()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await send_json(
                send, 405, {"error": "use GET", "field": "method"}, [(b"allow", b"GET")]
            )
            return
        headers = [
            (b"content-type", b"text/javascript; charset=utf-8"),
            (b"content-length", str(len(self.body)).encode()),
            (b"cache-control", b"public, max-age=3600"),
            (b"access-control-allow-origin", b"*"),
            (b"x-content-type-options", b"nosniff"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})
